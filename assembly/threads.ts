// The thread pool's protocol: one thread (the host's, running forward) posts jobs; worker threads,
// each with its own instance of this module over the same shared memory, run worker_main and take
// chunks of each job. What a chunk computes is forward.ts's run_chunk; this file only hands them out.
//
// Control block (CTRL_BYTES at `ctrl`, 64-byte aligned; the host plans it in src/layout.ts and
// zeroes it, then sets the configuration line once):
//
//   line 0  +0   i64  job word: epoch << 32 | next unclaimed chunk   (epoch 0: no job yet)
//           +8   i32  sleepers: workers inside memory.atomic.wait64 on the job word
//   line 1  +64  i32  done: chunks of the current job finished
//           +68  i32  1 while the posting thread sleeps on `done`
//           +72  i32  error: set by a worker's host when its wasm trapped (the poster then traps too)
//   line 2  +128 i32  job kind, +132 chunks, +136 rows per chunk, +140 total rows,
//           +144..+191  job arguments, 12 u32 (written by the poster before it publishes the epoch)
//   line 3  +192 i32  threads (poster included), +196 1 when the poster may block in atomic.wait
//                     (not a browser's main thread), +200 smallest chunk worth splitting off
//                     (forward.ts's work units), +204 the poster's polls of `done` before it sleeps,
//                     +208 a worker's polls of the job word before it sleeps
//
// Posting: arguments (plain stores), done = 0, then the new epoch with chunk 0 (seq-cst store), and a
// notify only when a worker sleeps. Claiming is a compare-exchange on the whole job word, so a claim
// succeeds only while the word still carries the epoch the claimant read the arguments under: the
// poster rewrites the arguments only after every chunk of the epoch is done, hence after every
// successful claim. A late worker therefore never runs a chunk with another job's arguments, and the
// poster never waits for a worker that did not claim anything (on a loaded machine the poster may do
// the whole job itself). The poster takes chunks too, then spins on `done` (and, where allowed, sleeps
// on it after a while; the last finisher notifies when it sees the poster asleep).
//
// Every chunk's result is computed by the same code whichever thread claims it, so results do not
// depend on the number of threads or on who ran what.

import { run_chunk } from './dispatch';

export const CTRL_BYTES: i32 = 256;

/** Bytes of the control block (the host plans them). */
export function ctrl_bytes(): i32 {
  return CTRL_BYTES;
}

const C_JOB: usize = 0;
const C_SLEEPERS: usize = 8;
const C_DONE: usize = 64;
const C_POSTER_ASLEEP: usize = 68;
const C_ERROR: usize = 72;
const C_KIND: usize = 128;
const C_CHUNKS: usize = 132;
const C_CHUNK_ROWS: usize = 136;
const C_ROWS: usize = 140;
const C_ARGS: usize = 144;
const C_THREADS: usize = 192;
const C_POSTER_BLOCKS: usize = 196;
const C_MIN_WORK: usize = 200;
const C_SPIN: usize = 204;
const C_WORKER_SPIN: usize = 208;

export const JOB_QUIT: i32 = 1;

/** This instance's thread: 0 for the poster's (and without a pool), worker_main's tid for a worker's. */
let THREAD_INDEX: i32 = 0;

/** The calling thread's index (0 .. threads − 1): which of the per-thread scratch areas is its own. */
export function thread_index(): i32 {
  return THREAD_INDEX;
}

/**
 * A sleeping worker wakes at least this often (ns) and passes a loop back-edge, where a runtime can
 * end the thread. Node's V8 interrupts the wait itself to terminate a worker, but not every runtime
 * does (Deno's Web Workers cannot be terminated inside Atomics.wait), and dispose() must not hang.
 */
const WORKER_WAIT_NS: i64 = 1_000_000_000;

/** Job argument i (u32 slot). */
// @ts-ignore: decorator
@inline
export function job_arg(ctrl: usize, i: i32): u32 {
  return load<u32>(ctrl + C_ARGS + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline
export function set_job_arg(ctrl: usize, i: i32, v: u32): void {
  store<u32>(ctrl + C_ARGS + (<usize>i << 2), v);
}

/** Rows [r0, r1) of chunk i of the current job. */
// @ts-ignore: decorator
@inline
export function chunk_r0(ctrl: usize, i: i32): i32 {
  return i * load<i32>(ctrl + C_CHUNK_ROWS);
}

// @ts-ignore: decorator
@inline
export function chunk_r1(ctrl: usize, i: i32): i32 {
  return min((i + 1) * load<i32>(ctrl + C_CHUNK_ROWS), load<i32>(ctrl + C_ROWS));
}

/**
 * Rows per chunk for `rows` rows of `rowWork` work units each: whole multiples of `align`, at least
 * the configured minimum work per chunk. Returns `rows` (one chunk: run it inline) without a pool.
 */
export function chunk_rows(ctrl: usize, rows: i32, rowWork: i32, align: i32): i32 {
  if (ctrl == 0 || load<i32>(ctrl + C_THREADS) <= 1 || rows <= align) return rows;
  const minWork = load<i32>(ctrl + C_MIN_WORK);
  let cr = rowWork > 0 ? (minWork + rowWork - 1) / rowWork : rows;
  cr = (max(cr, 1) + align - 1) / align * align;
  return min(cr, rows);
}

/**
 * Row parts to split each of `units` units of work into so that a pool has about two shares per
 * thread (a unit's share pays a fixed cost whatever its rows: fewer, larger shares); 0 without a
 * pool (run it inline).
 */
export function batch_row_parts(ctrl: usize, units: i32): i32 {
  if (ctrl == 0 || load<i32>(ctrl + C_THREADS) <= 1) return 0;
  return max(1, (2 * load<i32>(ctrl + C_THREADS) + units - 1) / units);
}

/** Claims and runs chunks of job `epoch` until none is left; returns how many it ran. */
function claim_and_run(ctrl: usize, epoch: i64): i32 {
  const chunks = load<i32>(ctrl + C_CHUNKS);
  const kind = load<i32>(ctrl + C_KIND);
  let ran = 0;
  for (;;) {
    const w = atomic.load<i64>(ctrl + C_JOB);
    if ((w >>> 32) != epoch) break;
    const i = <i32>(w & 0xffffffff);
    if (i >= chunks) break;
    if (atomic.cmpxchg<i64>(ctrl + C_JOB, w, w + 1) != w) continue;
    run_chunk(ctrl, kind, i);
    ran++;
  }
  if (ran > 0) {
    const done = atomic.add<i32>(ctrl + C_DONE, ran) + ran;
    if (done >= chunks && atomic.load<i32>(ctrl + C_POSTER_ASLEEP) != 0) atomic.notify(ctrl + C_DONE, 1);
  }
  return ran;
}

/** Publishes a new epoch of job `kind` with `chunks` chunks (arguments already written). */
function publish(ctrl: usize, kind: i32, chunks: i32): i64 {
  store<i32>(ctrl + C_KIND, kind);
  store<i32>(ctrl + C_CHUNKS, chunks);
  atomic.store<i32>(ctrl + C_DONE, 0);
  const epoch = (atomic.load<i64>(ctrl + C_JOB) >>> 32) + 1;
  atomic.store<i64>(ctrl + C_JOB, epoch << 32);
  if (atomic.load<i32>(ctrl + C_SLEEPERS) > 0) atomic.notify(ctrl + C_JOB, load<i32>(ctrl + C_THREADS));
  return epoch;
}

/**
 * Runs chunks 0 .. chunks − 1 of job `kind` over `rows` rows of `chunkRows` each, on every thread
 * of the pool, and returns when all are done. Arguments are set with set_job_arg beforehand.
 */
export function parallel(ctrl: usize, kind: i32, rows: i32, chunkRows: i32): void {
  const chunks = (rows + chunkRows - 1) / chunkRows;
  store<i32>(ctrl + C_ROWS, rows);
  store<i32>(ctrl + C_CHUNK_ROWS, chunkRows);
  if (chunks <= 1) {
    if (chunks == 1) run_chunk(ctrl, kind, 0);
    return;
  }
  const epoch = publish(ctrl, kind, chunks);
  claim_and_run(ctrl, epoch);
  const blocks = load<i32>(ctrl + C_POSTER_BLOCKS) != 0;
  const spin = load<i32>(ctrl + C_SPIN);
  let n = 0;
  for (;;) {
    const d = atomic.load<i32>(ctrl + C_DONE);
    if (d >= chunks) break;
    if (atomic.load<i32>(ctrl + C_ERROR) != 0) unreachable();
    if (blocks && ++n > spin) {
      atomic.store<i32>(ctrl + C_POSTER_ASLEEP, 1);
      // The timeout (1 ms) only bounds how late an error flag is seen; completion always notifies.
      if (atomic.load<i32>(ctrl + C_DONE) < chunks) memory.atomic.wait32(ctrl + C_DONE, d, 1_000_000);
      atomic.store<i32>(ctrl + C_POSTER_ASLEEP, 0);
    }
  }
}

/** Tells every worker to return from worker_main (the host then ends the worker threads). */
export function threads_stop(ctrl: usize): void {
  publish(ctrl, JOB_QUIT, 0);
  atomic.notify(ctrl + C_JOB, load<i32>(ctrl + C_THREADS));
}

/**
 * A worker thread's loop: waits for jobs (spinning first, then memory.atomic.wait64) and takes
 * chunks of each until the quit job. `tid` (1 .. threads − 1) names the worker: chunks are claimed,
 * not assigned, but a chunk may use the per-thread scratch of its thread (thread_index).
 */
export function worker_main(ctrl: usize, tid: i32): void {
  THREAD_INDEX = tid;
  let seen: i64 = 0;
  const spin = load<i32>(ctrl + C_WORKER_SPIN);
  for (;;) {
    let w = atomic.load<i64>(ctrl + C_JOB);
    for (let n = 0; (w >>> 32) == seen && n < spin; n++) w = atomic.load<i64>(ctrl + C_JOB);
    if ((w >>> 32) == seen) {
      atomic.add<i32>(ctrl + C_SLEEPERS, 1);
      memory.atomic.wait64(ctrl + C_JOB, w, WORKER_WAIT_NS);
      atomic.sub<i32>(ctrl + C_SLEEPERS, 1);
      continue;
    }
    seen = w >>> 32;
    if (load<i32>(ctrl + C_KIND) == JOB_QUIT) return;
    claim_and_run(ctrl, seen);
  }
}
