// The timeline's record of nondeterministic events: every value the machine took from its source at the
// frontier (inputs, clock readings, random values, disk reads), in order. Revisiting history replays
// them from where a snapshot was taken, so the past sees the values it saw then.
import { Nondeterminism, RecordedEvent, Replayer } from '../machine';
import { encodeDiskIo } from '../log';

export class EventRecord {
  private readonly events: RecordedEvent[] = [];

  /** Events taken since the timeline's start, in order. */
  get all(): readonly RecordedEvent[] {
    return this.events;
  }

  get length(): number {
    return this.events.length;
  }

  /** A Replayer that hands out the events from index `from` on (a snapshot's `events`). */
  replayerFrom(from: number): Replayer {
    const replayer = new Replayer();
    for (let i = from; i < this.events.length; i++) replayer.push(this.events[i]);
    return replayer;
  }

  /** `source`, with every value it hands out appended to the record. */
  tap(source: Nondeterminism): Nondeterminism {
    const take = (at: number, kind: 'clock' | 'random' | 'rtc', value: number) => {
      this.events.push({ kind: 'nondet', at, source: kind, value });
      return value;
    };
    return {
      clock: (at) => take(at, 'clock', source.clock(at)),
      random: (at) => take(at, 'random', source.random(at)),
      rtc: (at) => take(at, 'rtc', source.rtc(at)),
      inputsAt: (at) => {
        const inputs = source.inputsAt(at);
        this.events.push(...inputs);
        return inputs;
      },
      // Kept with its data even when the log has none (local mode): going back must not read a disk
      // the guest has written since.
      diskRead: (at, request, own) => {
        const data = source.diskRead(at, request, own);
        this.events.push({ kind: 'input', at, device: 'disk', data: encodeDiskIo(request.offset, request.length, data) });
        return data;
      },
    };
  }
}
