/** How a {@link MicroBatcher} groups the items submitted to it. */
export interface MicroBatcherOptions {
  /** Most items one call of the batch function gets. */
  readonly maxBatch: number;
  /** Most calls of the batch function running at once; items submitted meanwhile wait for the next one. */
  readonly maxInFlight: number;
}

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Turns many concurrent single-row statements into a few set-based ones: each {@link submit}ted item
 * waits for the end of the current turn of the event loop, then goes with every other item
 * submitted by then to one call of `run` (one statement, one commit). While `maxInFlight` calls
 * run, new items gather for the next: at low load a batch holds one item and waits for nothing; under
 * load batches grow by themselves to what the database absorbs.
 *
 * `run` gets the items in submission order and must return one result per item, in that order. If it
 * throws, every item of its batch rejects with that error.
 */
export class MicroBatcher<I, O> {
  private queued: Array<Pending<I, O>> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly options: MicroBatcherOptions,
  ) {
    if (!(options.maxBatch >= 1 && options.maxInFlight >= 1)) throw new RangeError('maxBatch and maxInFlight must be at least 1');
  }

  /** The item's own result, once its batch has run. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.queued.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.options.maxInFlight && this.queued.length > 0) {
      const batch = this.queued.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.runBatch(batch);
    }
  }

  private async runBatch(batch: ReadonlyArray<Pending<I, O>>): Promise<void> {
    try {
      const results = await this.run(batch.map((pending) => pending.item));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} items returned ${results.length} results`);
      batch.forEach((pending, i) => pending.resolve(results[i]!));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.inFlight -= 1;
      this.schedule();
    }
  }
}
