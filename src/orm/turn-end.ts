/**
 * Work deferred to the end of the current event-loop turn: everything queued here runs in
 * ONE `setImmediate`, after the poll phase has delivered every socket's data of this turn,
 * so requests that arrived together are served by one batch of reads (see read-batch.ts and
 * id-loader.ts).
 *
 * A task queued while the queue is running runs in the same pass. That is how an id
 * loader's `SELECT ... IN (...)`, issued from its task, still joins its database's read
 * batch of this turn instead of waiting one more turn.
 */

type Task = () => void;

let tasks: Task[] = [];
let scheduled = false;

/** Runs `task` at the end of this turn (in one shared `setImmediate`). `task` must not throw. */
export function atTurnEnd(task: Task): void {
  tasks.push(task);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runTasks);
  }
}

function runTasks(): void {
  const running = tasks;
  let failure: { error: unknown } | undefined;
  // `running.length` is read on every step: tasks may queue more tasks.
  for (let i = 0; i < running.length; i++) {
    try {
      running[i]!();
    } catch (error) {
      failure ??= { error }; // a bug in a task; the others still run, then it surfaces below
    }
  }
  tasks = [];
  scheduled = false;
  if (failure) throw failure.error;
}
