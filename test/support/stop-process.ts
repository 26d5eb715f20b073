/**
 * Freeze a test server as a paused machine would (SIGSTOP), and know it is frozen. `kill` returns once
 * the signal is queued, not once the process has stopped: on a loaded machine its threads went on
 * running for a few milliseconds (measured: a read sent after `kill` returned was answered 3 ms later in
 * 2 of 25 rounds), so a test that needs the server frozen before its next step waits for every thread
 * to show the stopped state in `/proc`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The scheduler states of `pid`'s threads, one letter each (`/proc/<pid>/task/<tid>/stat`, field 3). */
export function threadStates(pid: number): string[] {
  const states: string[] = [];
  for (const tid of readdirSync(`/proc/${String(pid)}/task`)) {
    try {
      const stat = readFileSync(`/proc/${String(pid)}/task/${tid}/stat`, 'utf8');
      // "tid (comm) S ...": the command may hold spaces and parentheses, the state follows the last ')'.
      states.push(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch {
      // A thread that ended between the listing and the read is not running either.
    }
  }
  return states;
}

/** SIGSTOP `pid` and resolve once every one of its threads is stopped; fails after `withinMs`. */
export async function stopProcess(pid: number, withinMs = 5000): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const until = performance.now() + withinMs;
  for (;;) {
    const states = threadStates(pid);
    if (states.length > 0 && states.every((s) => s === 'T' || s === 't')) return;
    if (performance.now() > until) throw new Error(`process ${String(pid)} not stopped ${String(withinMs)} ms after SIGSTOP (thread states ${states.join('')})`);
    await sleep(1);
  }
}
