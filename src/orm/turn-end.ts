/**
 * Work deferred to the end of this event-loop turn, in ONE `setImmediate`, so requests that
 * arrived together share one batch of reads. A task queued while the queue runs runs in the
 * same pass: an id loader's SELECT still joins this turn's read batch.
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
