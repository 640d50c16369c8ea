export interface Instruction {
  readonly name: string;
  readonly args: string;
}

/** A Dockerfile's instructions, continuation lines joined, comments left out. */
export function instructions(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return logical
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [name, ...rest] = line.split(/\s+/);
      return { name: name!.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of each stage, from its FROM on (an ARG before the first FROM belongs to none). */
export function stages(dockerfile: readonly Instruction[]): Instruction[][] {
  const found: Instruction[][] = [];
  for (const instruction of dockerfile) {
    if (instruction.name === 'FROM') found.push([instruction]);
    else found.at(-1)?.push(instruction);
  }
  return found;
}
