// The embedded coordinator (`lockstep ft --coordinator embedded`): the view service runs inside the
// cluster process. Hosts ping it over their control link; it answers each ping with the view and
// ticks every ping interval so that silent servers die. It saves its durable view at every change
// (viewstore.ts), so stopping it loses only soft state: a stopped service answers no ping and
// decides nothing (hosts keep the roles of the last view they saw), and starting it again restores
// the view from the file and rebuilds liveness from the next pings.
import { EventEmitter } from 'node:events';
import { ViewService, type Ping, type View, type ViewServiceOptions } from './viewservice';
import type { ViewStore } from './viewstore';
import type { Coordinator, CoordinatorEvents } from './coordinator';
import { StuckReport } from './stuckreport';

export class EmbeddedCoordinator extends EventEmitter<CoordinatorEvents> implements Coordinator {
  private service: ViewService | undefined;
  private timer: NodeJS.Timeout | undefined;
  private saved = '';
  private lastView: View;
  private readonly stuckReport: StuckReport;
  readonly relayed = true;

  constructor(readonly options: ViewServiceOptions, private readonly store: ViewStore) {
    super();
    this.service = new ViewService(options);
    this.lastView = this.service.view;
    this.stuckReport = new StuckReport(options);
    this.startTicking();
  }

  /** The current view (while stopped: the durable one). */
  get view(): View {
    return this.service?.view ?? this.lastView;
  }

  get running(): boolean {
    return this.service !== undefined;
  }

  /** False while stopped: a stopped service hears no acknowledgement. */
  get acked(): boolean {
    return this.service?.acked ?? false;
  }

  /** Live servers in no role of the view. */
  get idle(): string[] {
    return this.service?.idle ?? [];
  }

  /** False while stopped: a stopped service promotes no one. */
  get canPromote(): boolean {
    return this.service?.canPromote ?? false;
  }

  get stuck(): ViewService['stuck'] {
    return this.service?.stuck;
  }

  /** Nothing to reach: the service is in this process. */
  open(): Promise<void> {
    return Promise.resolve();
  }

  /** A host's ping: the view it should act on, or undefined while the service is stopped. */
  ping(ping: Ping): View | undefined {
    if (!this.service) return undefined;
    const view = this.service.ping(ping, performance.now());
    this.settle();
    return view;
  }

  /** The service goes down: everything but the saved view is lost. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.service = undefined;
  }

  /** The service comes back from its saved view. */
  start(): void {
    if (this.service) return;
    const durable = this.store.load();
    const now = performance.now();
    this.service = durable ? ViewService.restore(this.options, durable, now) : new ViewService(this.options);
    this.startTicking();
  }

  close(): void {
    this.stop();
  }

  private startTicking(): void {
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      // A tick later than its interval (and a little) means this process did not run meanwhile.
      const late = now - last - this.options.pingIntervalMs;
      if (late > this.options.pingIntervalMs) this.service?.stalled(late);
      last = now;
      this.service?.tick(now);
      this.settle();
      const line = this.service && this.stuckReport.check(this.service.stuck, this.service.view, now);
      if (line) this.emit('problem', line);
    }, this.options.pingIntervalMs);
  }

  /** Saves what changed, and tells of a new view. */
  private settle(): void {
    const durable = this.service!.durable;
    const text = JSON.stringify(durable);
    if (text === this.saved) return;
    this.store.save(durable);
    this.saved = text;
    if (durable.view.number !== this.lastView.number) {
      this.lastView = durable.view;
      this.emit('view', durable.view);
    }
  }
}
