import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type Config } from '@notofine/config';
import { instructions, stages as stagesOf } from '@test/dockerfile';
import { QueueKeys } from 'bullmq';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job, type IJob } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, type IConfigMap, type ISecret, type IService } from 'kubernetes-models/v1';
import * as ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import { DELIVERY_QUEUES } from '../../packages/queue/src/names';

// The deployment files (services/*/Dockerfile, docker-compose.yml, k8s/) checked without a cluster
// or a Docker daemon: every Kubernetes document against the API schemas (kubernetes-models), with
// unknown fields refused as `kubectl apply --validate=strict` does; then what ties the files to
// each other and to the code (ports, probes, variables, grace periods, queue keys).

const root = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

// ---- Kubernetes documents -------------------------------------------------------------------------

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface Manifest {
  readonly file: string;
  readonly index: number;
  readonly doc: K8sObject;
}

type ModelClass = new (data: never) => { validate(): void };

/** The kinds the manifests use: the model validating each, and the type of its strict check. */
const MODELS: Record<string, { model: ModelClass; module: string; type: string }> = {
  'v1/Namespace': { model: Namespace, module: 'kubernetes-models/v1/Namespace', type: 'INamespace' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/Secret': { model: Secret, module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'batch/v1/Job': { model: Job, module: 'kubernetes-models/batch/v1/Job', type: 'IJob' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    type: 'IHorizontalPodAutoscaler',
  },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
};

/** KEDA's custom resources: not in kubernetes-models, their shape is checked by hand below. */
const KEDA_KINDS = new Set(['keda.sh/v1alpha1/ScaledObject', 'keda.sh/v1alpha1/TriggerAuthentication']);

const KEDA_FILE = 'keda-scaledobject.yaml';
const kindOf = (doc: K8sObject): string => `${doc.apiVersion}/${doc.kind}`;
const where = (m: Manifest): string => `k8s/${m.file}#${m.index} (${m.doc.kind} ${m.doc.metadata?.name})`;
const clone = <T>(value: T): T => structuredClone(value);

function readManifests(): Manifest[] {
  const files = readdirSync(join(root, 'k8s'))
    .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
    .sort();
  return files.flatMap((file) =>
    parseAllDocuments(read(`k8s/${file}`)).flatMap((document, index) => {
      if (document.errors.length > 0) throw new Error(`k8s/${file}#${index}: ${document.errors.map((e) => e.message).join('; ')}`);
      const doc = document.toJS() as K8sObject | null;
      return doc === null ? [] : [{ file, index, doc }];
    }),
  );
}

/** The schema's verdict on one document (required fields, types, formats): null when valid. */
function schemaError(doc: K8sObject): string | null {
  const entry = MODELS[kindOf(doc)];
  if (!entry) return `no schema for ${kindOf(doc)}`;
  try {
    new entry.model(clone(doc) as never).validate();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Unknown fields (a typo such as `livenesProbe`), which the schemas let through: each document is
 * type-checked as an object literal of its kubernetes-models type, whose excess-property check
 * refuses any field the API does not define. All documents in one program (a few seconds).
 */
function unknownFieldErrors(docs: ReadonlyArray<{ name: string; doc: K8sObject }>): Map<string, string[]> {
  const files = new Map<string, { name: string; text: string }>();
  docs.forEach(({ name, doc }, i) => {
    const entry = MODELS[kindOf(doc)]!;
    const text = `import type { ${entry.type} as T } from '${entry.module}';\nexport const doc: T = ${JSON.stringify(doc, null, 2)};\n`;
    files.set(join(root, 'test', 'deploy', `__manifest_${i}__.ts`), { name, text });
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (fileName, language, ...rest) => {
    const virtual = files.get(fileName);
    return virtual ? ts.createSourceFile(fileName, virtual.text, language) : getSourceFile.call(host, fileName, language, ...rest);
  };
  host.fileExists = (fileName) => files.has(fileName) || fileExists.call(host, fileName);
  host.readFile = (fileName) => files.get(fileName)?.text ?? readFile.call(host, fileName);
  const program = ts.createProgram([...files.keys()], options, host);
  const errors = new Map<string, string[]>(docs.map(({ name }) => [name, []]));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const name = diagnostic.file ? files.get(diagnostic.file.fileName)?.name : undefined;
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (name) errors.get(name)!.push(message);
    else throw new Error(`type-checking the manifests failed: ${message}`);
  }
  return errors;
}

// ---- what the code says -----------------------------------------------------------------------------

/** The variables config.ts reads: the keys of its zod schema. */
function configVariables(): Set<string> {
  const source = read('packages/config/src/config.ts');
  const start = source.indexOf('const schema = z.object({');
  const end = source.indexOf('\n});', start);
  expect(start).toBeGreaterThan(-1);
  return new Set([...source.slice(start, end).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((match) => match[1]!));
}

/** Where each service answers its probes. */
const HEALTH_SOURCES = { api: 'services/api/src/health/routes.ts', worker: 'services/worker/src/health-server.ts' } as const;
type ServiceName = keyof typeof HEALTH_SOURCES;
const servesPath = (service: ServiceName, path: string): boolean => read(HEALTH_SOURCES[service]).includes(`'${path}'`);

/** The environment the images set (ENV NODE_ENV=production). */
const IMAGE_ENV = { NODE_ENV: 'production' };

// ---- cross-file checks, each a list of problems (empty when all is well) ---------------------------

type PodTemplate = NonNullable<IDeployment['spec']>['template'];
type Container = NonNullable<PodTemplate['spec']>['containers'][number];

const deploymentsOf = (manifests: readonly Manifest[]) => manifests.filter((m) => m.doc.kind === 'Deployment').map((m) => m.doc as unknown as IDeployment & K8sObject);
const componentOf = (d: IDeployment): string => d.spec!.template.metadata?.labels?.['app.kubernetes.io/component'] ?? '';
const single = <T extends K8sObject>(manifests: readonly Manifest[], kind: string): T => {
  const found = manifests.filter((m) => m.doc.kind === kind && m.file !== KEDA_FILE);
  if (found.length !== 1) throw new Error(`expected one ${kind} in k8s/ (outside ${KEDA_FILE}), found ${found.length}`);
  return found[0]!.doc as T;
};

/** The environment the workloads get from the ConfigMap and the Secret, over the image's. */
function workloadEnv(manifests: readonly Manifest[]): Record<string, string> {
  const configMap = single<IConfigMap & K8sObject>(manifests, 'ConfigMap');
  const secret = single<ISecret & K8sObject>(manifests, 'Secret');
  const decoded = Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  return { ...IMAGE_ENV, ...configMap.data, ...decoded, ...secret.stringData };
}

function portOf(container: Container, port: number | string | undefined): number | undefined {
  const declared = container.ports ?? [];
  return (typeof port === 'number' ? declared.find((p) => p.containerPort === port) : declared.find((p) => p.name === port))?.containerPort;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** Ports, probes and Services: every probe and targetPort reaches a declared port serving that path. */
function portProblems(manifests: readonly Manifest[], config: Config): string[] {
  const problems: string[] = [];
  const expectedPort: Record<ServiceName, number> = { api: config.http.port, worker: config.http.healthPort };
  for (const deployment of deploymentsOf(manifests)) {
    const name = deployment.metadata.name;
    const component = componentOf(deployment) as ServiceName;
    if (!(component in HEALTH_SOURCES)) {
      problems.push(`${name}: component label ${component} is neither api nor worker`);
      continue;
    }
    for (const container of deployment.spec!.template.spec!.containers) {
      const ports = (container.ports ?? []).map((p) => p.containerPort);
      if (!ports.includes(expectedPort[component])) problems.push(`${name}: no containerPort ${expectedPort[component]} (the port config.ts gives the ${component})`);
      for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
        const probe = container[kind];
        if (!probe) {
          if (kind !== 'startupProbe') problems.push(`${name}: no ${kind}`);
          continue;
        }
        const port = portOf(container, probe.httpGet?.port);
        if (port === undefined) problems.push(`${name}: ${kind} port ${String(probe.httpGet?.port)} is not a containerPort`);
        else if (port !== expectedPort[component]) problems.push(`${name}: ${kind} on port ${port}, the ${component} serves probes on ${expectedPort[component]}`);
        const path = probe.httpGet?.path ?? '';
        if (!servesPath(component, path)) problems.push(`${name}: ${kind} path ${path} is not served by the ${component} (${HEALTH_SOURCES[component]})`);
      }
      const scrapePort = deployment.spec!.template.metadata?.annotations?.['prometheus.io/port'];
      if (scrapePort !== undefined && !ports.includes(Number(scrapePort))) problems.push(`${name}: prometheus.io/port ${scrapePort} is not a containerPort`);
    }
  }
  for (const m of manifests.filter((m) => m.doc.kind === 'Service')) {
    const service = m.doc as unknown as IService & K8sObject;
    const targets = deploymentsOf(manifests).filter((d) => matches(service.spec?.selector, d.spec!.template.metadata?.labels));
    if (targets.length === 0) problems.push(`Service ${service.metadata.name} selects no Deployment`);
    for (const target of targets) {
      for (const servicePort of service.spec?.ports ?? []) {
        const resolved = target.spec!.template.spec!.containers.map((c) => portOf(c, servicePort.targetPort ?? servicePort.port));
        if (resolved.every((port) => port === undefined)) {
          problems.push(`Service ${service.metadata.name}: targetPort ${String(servicePort.targetPort)} is not a containerPort of ${target.metadata!.name}`);
        }
      }
    }
  }
  return problems;
}

/** A stopping pod must be given more time than it takes: preStop, then SHUTDOWN_TIMEOUT_MS. */
function gracePeriodProblems(manifests: readonly Manifest[], config: Config): string[] {
  const problems: string[] = [];
  const shutdownSeconds = config.shutdownTimeoutMs / 1000;
  for (const deployment of deploymentsOf(manifests)) {
    const spec = deployment.spec!.template.spec!;
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    for (const container of spec.containers) {
      const command = container.lifecycle?.preStop?.exec?.command ?? [];
      const preStop = command[0] === 'sleep' ? Number(command[1]) : 0;
      if (grace <= shutdownSeconds + preStop) {
        problems.push(`${deployment.metadata!.name}: terminationGracePeriodSeconds ${grace} is not more than preStop ${preStop} s + SHUTDOWN_TIMEOUT_MS ${shutdownSeconds} s`);
      }
    }
    if (componentOf(deployment) === 'api' && !spec.containers.some((c) => c.lifecycle?.preStop)) {
      problems.push(`${deployment.metadata!.name}: no preStop pause before the drain (endpoints are removed while it runs)`);
    }
  }
  return problems;
}

/** Every variable set is one config.ts reads, and the whole passes its validation. */
function environmentProblems(manifests: readonly Manifest[]): string[] {
  const known = configVariables();
  const problems: string[] = [];
  const configMap = single<IConfigMap & K8sObject>(manifests, 'ConfigMap');
  const secret = single<ISecret & K8sObject>(manifests, 'Secret');
  const set = [
    ...Object.keys(configMap.data ?? {}).map((name) => [name, 'ConfigMap']),
    ...Object.keys({ ...secret.data, ...secret.stringData }).map((name) => [name, 'Secret']),
  ];
  for (const m of manifests) {
    const template = (m.doc.kind === 'Deployment' || m.doc.kind === 'Job' ? (m.doc as unknown as IDeployment).spec?.template : undefined) as PodTemplate | undefined;
    for (const container of template?.spec?.containers ?? []) {
      for (const variable of container.env ?? []) set.push([variable.name, where(m)]);
      const from = (container.envFrom ?? []).map((source) => source.configMapRef?.name ?? source.secretRef?.name);
      for (const needed of [configMap.metadata.name, secret.metadata.name]) {
        if (!from.includes(needed)) problems.push(`${where(m)}: container ${container.name} does not take its environment from ${needed}`);
      }
    }
  }
  for (const [name, source] of set) if (!known.has(name!)) problems.push(`${source} sets ${name}, which config.ts does not read`);
  try {
    loadConfig(workloadEnv(manifests));
  } catch (error) {
    problems.push(`the ConfigMap and Secret do not make a valid configuration: ${(error as Error).message}`);
  }
  return problems;
}

/** Non-root, no privilege escalation, read-only root filesystem (writes go to mounted volumes). */
function securityProblems(manifests: readonly Manifest[], config: Config): string[] {
  const problems: string[] = [];
  for (const m of manifests.filter((m) => m.doc.kind === 'Deployment' || m.doc.kind === 'Job')) {
    const pod = (m.doc as unknown as IDeployment | IJob).spec!.template.spec!;
    if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${where(m)}: runAsNonRoot is not true`);
    // USER node in the images is a name: the kubelet needs a number to check runAsNonRoot.
    if (!(pod.securityContext?.runAsUser !== undefined && pod.securityContext.runAsUser > 0)) problems.push(`${where(m)}: runAsUser is not a non-zero uid`);
    for (const container of pod.containers) {
      const context = container.securityContext;
      if (context?.allowPrivilegeEscalation !== false) problems.push(`${where(m)}: ${container.name} allows privilege escalation`);
      if (context?.readOnlyRootFilesystem !== true) problems.push(`${where(m)}: ${container.name} has a writable root filesystem`);
      if (!context?.capabilities?.drop?.includes('ALL')) problems.push(`${where(m)}: ${container.name} keeps its capabilities`);
      for (const kind of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory']) {
          if (container.resources?.[kind]?.[resource] === undefined) problems.push(`${where(m)}: ${container.name} has no ${resource} ${kind}`);
        }
      }
      if (componentOf(m.doc as unknown as IDeployment) === 'worker') {
        const outbox = posix.resolve('/app', config.providers.outboxDir);
        const mounted = (container.volumeMounts ?? []).some((mount) => outbox === mount.mountPath || outbox.startsWith(`${mount.mountPath}/`));
        if (!mounted) problems.push(`${where(m)}: OUTBOX_DIR ${outbox} is on the read-only root filesystem (mount a volume there)`);
      }
    }
  }
  return problems;
}

/** HPAs, PDBs and the Job point at what exists; the connections fit in PostgreSQL. */
function wiringProblems(manifests: readonly Manifest[], config: Config): string[] {
  const problems: string[] = [];
  const deployments = deploymentsOf(manifests);
  const byName = new Map(deployments.map((d) => [d.metadata!.name!, d]));
  let workerMaxReplicas = 0;
  for (const m of manifests.filter((m) => m.doc.kind === 'HorizontalPodAutoscaler')) {
    const hpa = m.doc as unknown as IHorizontalPodAutoscaler;
    const target = byName.get(hpa.spec!.scaleTargetRef.name);
    if (!target || hpa.spec!.scaleTargetRef.kind !== 'Deployment') problems.push(`${where(m)}: scales no Deployment of k8s/`);
    else if (target.spec!.replicas !== undefined) problems.push(`${where(m)}: ${target.metadata!.name} sets replicas, which would fight the autoscaler at every apply`);
    if (target && componentOf(target) === 'worker') workerMaxReplicas = Math.max(workerMaxReplicas, hpa.spec!.maxReplicas);
  }
  for (const m of manifests.filter((m) => m.doc.kind === 'PodDisruptionBudget')) {
    const selector = (m.doc as unknown as IPodDisruptionBudget).spec?.selector?.matchLabels;
    if (!deployments.some((d) => matches(selector, d.spec!.template.metadata?.labels))) problems.push(`${where(m)}: selects no Deployment`);
  }
  for (const m of manifests.filter((m) => m.doc.kind === 'ScaledObject')) {
    workerMaxReplicas = Math.max(workerMaxReplicas, Number((m.doc.spec as { maxReplicaCount?: number }).maxReplicaCount ?? 100));
  }
  const api = deployments.find((d) => componentOf(d) === 'api');
  const jobs = manifests.filter((m) => m.doc.kind === 'Job');
  if (jobs.length !== 1) problems.push(`expected one migrations Job, found ${jobs.length}`);
  for (const m of jobs) {
    const job = m.doc as unknown as IJob;
    const container = job.spec!.template.spec!.containers[0]!;
    if (container.image !== api?.spec!.template.spec!.containers[0]!.image) problems.push(`${where(m)}: does not run the api image`);
    if (!(container.command ?? []).concat(container.args ?? []).includes('packages/db/dist/cli/migrate.js')) problems.push(`${where(m)}: does not run packages/db/dist/cli/migrate.js`);
    if (job.spec!.backoffLimit === undefined) problems.push(`${where(m)}: no backoffLimit`);
    if (job.spec!.ttlSecondsAfterFinished === undefined) problems.push(`${where(m)}: no ttlSecondsAfterFinished`);
    if (!['Never', 'OnFailure'].includes(job.spec!.template.spec!.restartPolicy ?? '')) problems.push(`${where(m)}: restartPolicy must be Never or OnFailure`);
  }
  // PostgreSQL's default max_connections (100) less its 3 superuser_reserved_connections; the
  // migrations Job holds 2.
  const connections = config.database.poolSize * ((api?.spec!.replicas ?? 1) + workerMaxReplicas) + 2;
  if (connections > 97) problems.push(`up to ${connections} PostgreSQL connections (DATABASE_POOL_SIZE x (api replicas + worker max replicas) + 2): over max_connections 100`);
  return problems;
}

/** KEDA's ScaledObject (a CRD, unknown to kubernetes-models): its shape and the real BullMQ keys. */
function kedaProblems(manifests: readonly Manifest[], prefix: string): string[] {
  const problems: string[] = [];
  const keda = manifests.filter((m) => m.file === KEDA_FILE);
  const scaled = keda.filter((m) => kindOf(m.doc) === 'keda.sh/v1alpha1/ScaledObject');
  if (scaled.length !== 1) return [`expected one ScaledObject in k8s/${KEDA_FILE}, found ${scaled.length}`];
  const { doc } = scaled[0]!;
  const spec = doc.spec as {
    scaleTargetRef?: { name?: string; kind?: string };
    minReplicaCount?: unknown;
    maxReplicaCount?: unknown;
    triggers?: Array<{ type?: string; metadata?: Record<string, unknown>; authenticationRef?: { name?: string } }>;
  };
  const known = new Set(['scaleTargetRef', 'pollingInterval', 'cooldownPeriod', 'initialCooldownPeriod', 'idleReplicaCount', 'minReplicaCount', 'maxReplicaCount', 'fallback', 'advanced', 'triggers']);
  for (const field of Object.keys(spec ?? {})) if (!known.has(field)) problems.push(`ScaledObject: unknown field spec.${field}`);
  const worker = deploymentsOf(manifests).find((d) => componentOf(d) === 'worker');
  if (spec?.scaleTargetRef?.name !== worker?.metadata?.name || (spec?.scaleTargetRef?.kind ?? 'Deployment') !== 'Deployment') problems.push('ScaledObject: scaleTargetRef is not the worker Deployment');
  for (const field of ['minReplicaCount', 'maxReplicaCount'] as const) if (!Number.isInteger(spec?.[field])) problems.push(`ScaledObject: ${field} is not an integer`);
  const authentications = new Set(keda.filter((m) => m.doc.kind === 'TriggerAuthentication').map((m) => m.doc.metadata.name));
  const secrets = new Set(keda.filter((m) => m.doc.kind === 'Secret').map((m) => m.doc.metadata.name));
  for (const m of keda.filter((m) => m.doc.kind === 'TriggerAuthentication')) {
    for (const ref of (m.doc.spec as { secretTargetRef?: Array<{ name: string }> }).secretTargetRef ?? []) {
      if (!secrets.has(ref.name)) problems.push(`TriggerAuthentication ${m.doc.metadata.name}: no Secret ${ref.name} in k8s/${KEDA_FILE}`);
    }
  }
  const keys = new QueueKeys(prefix);
  const expected = Object.values(DELIVERY_QUEUES).map((queue) => keys.toKey(queue, 'wait'));
  const lists: string[] = [];
  for (const trigger of spec?.triggers ?? []) {
    if (trigger.type !== 'redis') problems.push(`ScaledObject: trigger of type ${trigger.type}, not redis (Redis Lists)`);
    const metadata = trigger.metadata ?? {};
    lists.push(String(metadata.listName));
    if (!(typeof metadata.listLength === 'string' && /^[1-9]\d*$/.test(metadata.listLength))) problems.push(`ScaledObject: listLength of ${String(metadata.listName)} must be a positive integer, quoted`);
    if (typeof metadata.address !== 'string' || !/^[^:/]+:\d+$/.test(metadata.address)) problems.push(`ScaledObject: address of ${String(metadata.listName)} must be host:port`);
    if (trigger.authenticationRef && !authentications.has(trigger.authenticationRef.name ?? '')) problems.push(`ScaledObject: no TriggerAuthentication ${trigger.authenticationRef.name}`);
  }
  if ([...lists].sort().join() !== [...expected].sort().join()) problems.push(`ScaledObject: watches ${lists.join(', ')}; the delivery queues' wait lists are ${expected.join(', ')}`);
  return problems;
}

const run = promisify(execFile);

// ======================================================================================================

const manifests = readManifests();
const workspaces: string[] = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;

let env: Record<string, string>;
let config: Config;
let unknownFields: Map<string, string[]>;

/** Broken copies of the manifests, each of which must be refused. */
const apiDeployment = (): IDeployment & K8sObject => clone(deploymentsOf(manifests).find((d) => componentOf(d) === 'api')!);
const broken = {
  replicasAsString: (() => {
    const doc = apiDeployment() as unknown as { spec: { replicas: unknown } };
    doc.spec.replicas = '2';
    return doc as unknown as K8sObject;
  })(),
  typoedProbe: (() => {
    const doc = apiDeployment();
    const container = doc.spec!.template.spec!.containers[0]! as Container & Record<string, unknown>;
    container.livenesProbe = container.livenessProbe;
    delete container.livenessProbe;
    return doc;
  })(),
  typoedPort: (() => {
    const doc = apiDeployment();
    const port = doc.spec!.template.spec!.containers[0]!.ports![0]! as unknown as Record<string, unknown>;
    port.containerPrt = port.containerPort;
    delete port.containerPort;
    return doc;
  })(),
};

beforeAll(() => {
  env = workloadEnv(manifests);
  config = loadConfig(env);
  const strict = manifests.filter((m) => MODELS[kindOf(m.doc)]).map((m) => ({ name: where(m), doc: m.doc }));
  unknownFields = unknownFieldErrors([...strict, { name: 'broken:typoedProbe', doc: broken.typoedProbe }, { name: 'broken:typoedPort', doc: broken.typoedPort }]);
});

describe('k8s/', () => {
  it('holds the documents of a deployment', () => {
    const kinds = manifests.filter((m) => m.file !== KEDA_FILE).map((m) => m.doc.kind);
    for (const kind of ['Namespace', 'ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'Job']) expect(kinds).toContain(kind);
    expect(deploymentsOf(manifests).map(componentOf).sort()).toEqual(['api', 'worker']);
  });

  it('uses only kinds with a schema here, or KEDA\'s (checked by hand below)', () => {
    expect(manifests.map((m) => kindOf(m.doc)).filter((kind) => !MODELS[kind] && !KEDA_KINDS.has(kind))).toEqual([]);
  });

  it.each(manifests.filter((m) => !KEDA_KINDS.has(kindOf(m.doc))).map((m) => [where(m), m] as const))('%s is valid against the Kubernetes schema', (_name, m) => {
    expect(schemaError(m.doc)).toBeNull();
    expect(unknownFields.get(where(m))).toEqual([]);
  });

  it('refuses broken manifests: a string for an integer, a typo in a field name', () => {
    expect(schemaError(apiDeployment())).toBeNull();
    expect(schemaError(broken.replicasAsString)).toMatch(/replicas must be integer/);
    expect(unknownFields.get('broken:typoedProbe')!.join('\n')).toMatch(/livenesProbe/);
    expect(unknownFields.get('broken:typoedPort')!.join('\n')).toMatch(/containerPrt/);
  });

  it('lists in kustomization.yaml every file but the optional KEDA one, all in one namespace', () => {
    const kustomization = parse(read('k8s/kustomization.yaml')) as { namespace: string; resources: string[]; images?: Array<{ name: string }> };
    const files = [...new Set(manifests.map((m) => m.file))].filter((file) => file !== KEDA_FILE);
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.resources).not.toContain(KEDA_FILE);
    expect(single(manifests, 'Namespace').metadata.name).toBe(kustomization.namespace);
    for (const m of manifests.filter((m) => m.doc.kind !== 'Namespace')) expect([where(m), m.doc.metadata.namespace]).toEqual([where(m), kustomization.namespace]);
    const images = deploymentsOf(manifests).map((d) => d.spec!.template.spec!.containers[0]!.image!.replace(/:[^:/]+$/, ''));
    for (const image of kustomization.images ?? []) expect(images).toContain(image.name);
  });

  it('gives every probe and the Service a declared port on which the service answers that path', () => {
    expect(portProblems(manifests, config)).toEqual([]);
    const moved = clone(manifests);
    const api = deploymentsOf(moved).find((d) => componentOf(d) === 'api')!;
    api.spec!.template.spec!.containers[0]!.ports![0]!.name = 'web';
    api.spec!.template.spec!.containers[0]!.readinessProbe!.httpGet!.path = '/ready';
    expect(portProblems(moved, config)).toEqual(
      expect.arrayContaining([expect.stringMatching(/livenessProbe port http is not a containerPort/), expect.stringMatching(/path \/ready is not served/), expect.stringMatching(/targetPort http/)]),
    );
  });

  it('gives stopping pods more than SHUTDOWN_TIMEOUT_MS (and the API its preStop pause too)', () => {
    expect(config.shutdownTimeoutMs).toBe(Number(env.SHUTDOWN_TIMEOUT_MS ?? loadConfig({}).shutdownTimeoutMs));
    expect(gracePeriodProblems(manifests, config)).toEqual([]);
    const hurried = clone(manifests);
    const worker = deploymentsOf(hurried).find((d) => componentOf(d) === 'worker')!;
    worker.spec!.template.spec!.terminationGracePeriodSeconds = config.shutdownTimeoutMs / 1000;
    expect(gracePeriodProblems(hurried, config)).toEqual([expect.stringMatching(/notofine-worker: terminationGracePeriodSeconds/)]);
  });

  it('sets only variables that config.ts reads, and a configuration it accepts in production', () => {
    expect(config.env).toBe('production');
    expect(environmentProblems(manifests)).toEqual([]);
    const misspelt = clone(manifests);
    (single<IConfigMap & K8sObject>(misspelt, 'ConfigMap').data as Record<string, string>).WORKERS_CONCURRENCY = '10';
    expect(environmentProblems(misspelt)).toEqual([expect.stringMatching(/sets WORKERS_CONCURRENCY, which config.ts does not read/)]);
  });

  it('runs every pod as non-root, read-only, with resources, and the outbox on a volume', () => {
    expect(securityProblems(manifests, config)).toEqual([]);
    const rooted = clone(manifests);
    deploymentsOf(rooted)[0]!.spec!.template.spec!.securityContext!.runAsUser = 0;
    expect(securityProblems(rooted, config)).toEqual([expect.stringMatching(/runAsUser is not a non-zero uid/)]);
  });

  it('points the autoscaler, the budgets and the migrations Job at what exists, within max_connections', () => {
    expect(wiringProblems(manifests, config)).toEqual([]);
    const crowded = clone(manifests);
    const hpa = crowded.find((m) => m.doc.kind === 'HorizontalPodAutoscaler')!.doc as unknown as IHorizontalPodAutoscaler;
    hpa.spec!.maxReplicas = 50;
    expect(wiringProblems(crowded, config)).toEqual([expect.stringMatching(/PostgreSQL connections/)]);
  });

  it("keeps the optional KEDA scaler on the delivery queues' real BullMQ wait lists", () => {
    // KEDA's kinds are CRDs, not in kubernetes-models: checked by hand (their Secret is a core kind).
    for (const m of manifests.filter((m) => m.file === KEDA_FILE && !KEDA_KINDS.has(kindOf(m.doc)))) expect(schemaError(m.doc)).toBeNull();
    expect(new QueueKeys('notofine').toKey('email', 'wait')).toBe('notofine:email:wait');
    expect(kedaProblems(manifests, config.redis.queuePrefix)).toEqual([]);
    expect(kedaProblems(manifests, 'other-prefix')).toEqual([expect.stringMatching(/the delivery queues' wait lists are other-prefix:email:wait/)]);
  });
});

describe.each(['api', 'worker'] as const)('services/%s/Dockerfile', (service) => {
  const dockerfile = instructions(read(`services/${service}/Dockerfile`));
  const stages = stagesOf(dockerfile);
  const runtime = stages.at(-1)!;
  const args = (name: string, stage = runtime) => stage.filter((i) => i.name === name).map((i) => i.args);
  const port = service === 'api' ? loadConfig({}).http.port : loadConfig({}).http.healthPort;

  it('builds in a stage of its own and runs from a slim Node LTS image, major pinned', () => {
    const image = /^NODE_IMAGE=(.+)$/.exec(dockerfile.find((i) => i.name === 'ARG')?.args ?? '')?.[1];
    expect(image).toMatch(/^node:(22|24)-bookworm-slim$/);
    expect(instructions(read('services/api/Dockerfile')).find((i) => i.name === 'ARG')).toEqual(dockerfile.find((i) => i.name === 'ARG'));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]!.args).toMatch(/^\$\{NODE_IMAGE\}( AS \w+)?$/i);
    expect(args('RUN', stages[0]).join('\n')).toMatch(/npm ci[^\n]*\n(.*\n)*npm run build/);
  });

  it('installs production dependencies only, with every workspace manifest for the lockfile', () => {
    expect(args('ENV').join(' ')).toMatch(/NODE_ENV=production/);
    expect(args('RUN').join('\n')).toMatch(new RegExp(`npm ci --omit=dev --omit=optional --workspace services/${service}`));
    const copied = args('COPY').map((a) => a.split(' ')[0]);
    for (const file of ['package.json', ...workspaces.map((w) => `${w}/package.json`)]) expect(copied.join(' ')).toContain(file);
    expect(args('COPY').some((a) => a.startsWith('--from=build'))).toBe(true);
    // Only dist/ of the workspaces is copied from the build: packages/* (packages/db's migrations
    // and cli/migrate.js among them) and this service.
    expect(args('RUN', stages[0]).join('\n')).toMatch(new RegExp(`for ws in packages/\\* services/${service}; .*cp -R "\\$ws/dist"`));
    // Files the packages read at run time, beside their dist/.
    expect(args('RUN', stages[0]).join('\n')).toContain('cp -R packages/notifications/templates /out/packages/notifications/templates');
  });

  it('runs as the non-root node user', () => {
    expect(args('USER').at(-1)).toBe('node');
    expect(runtime.findIndex((i) => i.name === 'USER')).toBeLessThan(runtime.findIndex((i) => i.name === 'CMD'));
  });

  it('exposes the port config.ts gives it and runs its compiled main, with the Node flags npm start uses', () => {
    expect(args('EXPOSE')).toEqual([String(port)]);
    const command = JSON.parse(args('CMD')[0]!) as string[];
    // The API's requests in flight outlive V8's default young generation (BENCHMARKS.md).
    const flags = service === 'api' ? ['--max-semi-space-size=64'] : [];
    expect(command).toEqual(['node', ...flags, `services/${service}/dist/main.js`]);
    // `npm start` and `npm run start:<service>` run it as the image does (the benchmark reads the CMD).
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    for (const script of ['start', `start:${service}`]) expect(scripts[script]).toContain(command.join(' '));
    expect(existsSync(join(root, `services/${service}/src/main.ts`))).toBe(true);
  });

  it('checks its health with fetch on a path the service answers', async () => {
    const variable = service === 'api' ? 'PORT' : 'HEALTH_PORT';
    const healthcheck = args('HEALTHCHECK').join(' ');
    expect(healthcheck).toContain('CMD ');
    const script = (JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[]).at(-1)!;
    expect(healthcheck).toMatch(/^--interval=\S+ --timeout=\S+ .*CMD \["node", "-e", /);
    expect(script).toContain(`process.env.${variable} || ${port}`);
    const path = /'(\/[a-z]+)'\)/.exec(script)?.[1];
    expect(path).toBe('/healthz');
    expect(servesPath(service, path!)).toBe(true);

    // The script itself, against a stand-in answering 200 then 503.
    let status = 200;
    const server: Server = createServer((req, res) => {
      res.writeHead(req.url === path ? status : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const healthy = { ...process.env, [variable]: String((server.address() as AddressInfo).port) };
      await expect(run(process.execPath, ['-e', script], { env: healthy, timeout: 10_000 })).resolves.toBeDefined();
      status = 503;
      await expect(run(process.execPath, ['-e', script], { env: healthy, timeout: 10_000 })).rejects.toMatchObject({ code: 1 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('workspace packages', () => {
  it.each(workspaces)('%s resolves to its compiled dist/ (the images ship no sources)', (workspace) => {
    const manifest = JSON.parse(read(`${workspace}/package.json`)) as { main?: string; types?: string; exports?: unknown };
    expect(manifest.main).toMatch(/^(\.\/)?dist\//);
    if (manifest.types !== undefined) expect(manifest.types).toMatch(/^(\.\/)?dist\//);
    if (manifest.exports !== undefined) expect(JSON.stringify(manifest.exports)).not.toMatch(/src\//);
  });

  it('keeps installed and built output out of the build context (.dockerignore)', () => {
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim());
    for (const entry of ['**/node_modules', '**/dist', '.git', 'var', 'coverage', '*.log', '.env*']) expect(ignored).toContain(entry);
  });
});

describe('docker-compose.yml', () => {
  interface ComposeService {
    image?: string;
    build?: { context: string; dockerfile: string };
    command?: string | string[];
    environment?: Record<string, string | number | boolean | null> | string[];
    depends_on?: Record<string, { condition: string }>;
    ports?: string[];
    volumes?: string[];
    healthcheck?: { test: string | string[] };
  }
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
  const services = compose.services;
  const environment = (service: ComposeService): Record<string, string> =>
    Array.isArray(service.environment)
      ? Object.fromEntries(service.environment.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]))
      : Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value ?? '')]));
  const command = (service: ComposeService): string => (Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? ''));

  it('runs postgres, redis, the migrations, the api and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    expect(services.postgres!.image).toMatch(/^postgres:1[56]\b/);
    expect(services.redis!.image).toMatch(/^redis:7\b/);
    for (const name of ['postgres', 'redis']) {
      expect(services[name]!.healthcheck?.test).toBeDefined();
      expect(services[name]!.volumes?.length).toBeGreaterThan(0);
    }
  });

  it('runs Redis as BullMQ needs it: noeviction, append-only file', () => {
    expect(command(services.redis!)).toMatch(/--maxmemory-policy noeviction/);
    expect(command(services.redis!)).toMatch(/--appendonly yes/);
  });

  it('migrates first, from the api image, and starts the services once it succeeded', () => {
    const migrate = services.migrate!;
    expect(migrate.build?.dockerfile).toBe('services/api/Dockerfile');
    expect(migrate.image).toBe(services.api!.image);
    expect(command(migrate)).toBe('node packages/db/dist/cli/migrate.js');
    expect(migrate.depends_on?.postgres?.condition).toBe('service_healthy');
    for (const name of ['api', 'worker']) {
      expect(services[name]!.depends_on?.migrate?.condition).toBe('service_completed_successfully');
      expect(services[name]!.depends_on?.redis?.condition).toBe('service_healthy');
      expect(existsSync(join(root, services[name]!.build!.dockerfile))).toBe(true);
    }
    expect(services.worker!.build?.dockerfile).toBe('services/worker/Dockerfile');
  });

  it.each(['migrate', 'api', 'worker'])('gives %s only variables config.ts reads, valid in production with the outbox', (name) => {
    const known = configVariables();
    const variables = environment(services[name]!);
    expect(Object.keys(variables).filter((variable) => !known.has(variable))).toEqual([]);
    const loaded = loadConfig({ ...IMAGE_ENV, ...variables });
    expect(loaded.env).toBe('production');
    expect([loaded.providers.email, loaded.providers.sms, loaded.providers.push]).toEqual(['outbox', 'outbox', 'outbox']);
    expect(new URL(loaded.database.url).hostname).toBe('postgres');
    expect(new URL(loaded.redis.url).hostname).toBe('redis');
  });

  it("publishes the API's port and keeps the worker's outbox in a volume", () => {
    const api = loadConfig({ ...IMAGE_ENV, ...environment(services.api!) });
    expect(services.api!.ports).toContain(`${api.http.port}:${api.http.port}`);
    const worker = loadConfig({ ...IMAGE_ENV, ...environment(services.worker!) });
    const outbox = posix.resolve('/app', worker.providers.outboxDir);
    expect(services.worker!.volumes?.map((volume) => volume.split(':')[1])).toContain(outbox);
  });
});
