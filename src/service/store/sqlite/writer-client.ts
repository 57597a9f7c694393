import { Worker } from "node:worker_threads";
import { ConflictError, NotFoundError } from "../../keys/errors.js";
import type { UsageBatch } from "../../keys/model.js";
import { packUsage, transferList } from "./packed-usage.js";
import type { StoreWrites, WriteOp } from "./store-writes.js";
import type { WriterRequest, WriterResponse } from "./writer-protocol.js";

/**
 * Compiled (dist/, as `npm start` runs), the thread runs its own module;
 * from source (tests, `npm run dev`) it first registers the TypeScript loader,
 * which worker threads do not inherit.
 */
const WRITER_THREAD_ENTRY = import.meta.url.endsWith(".js")
  ? new URL("./writer-thread.js", import.meta.url)
  : new URL("./writer-thread-entry.mjs", import.meta.url);

type Pending = { resolve(value: WriterResponse): void; reject(error: Error): void };
type RequestBody = WriterRequest extends infer R ? (R extends unknown ? Omit<R, "id"> : never) : never;

/**
 * The main thread's handle on the writer thread. Calls are answered in order;
 * a call resolves once its transaction has committed on the thread.
 */
export class WriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(path: string, checkpointIntervalMs: number) {
    this.worker = new Worker(WRITER_THREAD_ENTRY, {
      workerData: { path, checkpointIntervalMs },
    });
    // The thread must not keep the process alive; pending calls do that.
    this.worker.unref();
    this.worker.on("message", (response: WriterResponse) => {
      const call = this.pending.get(response.id);
      this.pending.delete(response.id);
      if (this.pending.size === 0) this.worker.unref();
      call?.resolve(response);
    });
    const fail = (error: Error) => {
      this.failure = error;
      for (const call of this.pending.values()) call.reject(error);
      this.pending.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => {
      if (this.pending.size > 0 || code !== 0) fail(new Error(`the SQLite writer thread exited with code ${code}`));
    });
  }

  private async call(body: RequestBody, transfer: ArrayBuffer[] = []) {
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    const response = await new Promise<WriterResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...body, id }, transfer);
    });
    if (!response.ok) {
      const { message, notFound, conflict } = response.error;
      if (notFound) throw new NotFoundError(notFound.what, notFound.id);
      throw conflict ? new ConflictError(message) : new Error(message);
    }
    return response.result;
  }

  /** Runs one of StoreWrites on the thread; resolves once its transaction has committed. */
  async write<K extends WriteOp>(op: K, ...args: Parameters<StoreWrites[K]>): Promise<ReturnType<StoreWrites[K]>> {
    return (await this.call({ kind: "write", op, args })) as ReturnType<StoreWrites[K]>;
  }

  async applyUsage(batch: UsageBatch): Promise<void> {
    const packed = await packUsage(batch);
    await this.call({ kind: "usage", packed }, transferList(packed));
  }

  async checkpoint(): Promise<void> {
    await this.call({ kind: "checkpoint" });
  }

  async close(): Promise<void> {
    if (this.failure) return;
    await this.call({ kind: "close" });
    await this.worker.terminate();
  }
}
