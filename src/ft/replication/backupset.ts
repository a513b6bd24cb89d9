// The primary's backups (VM-FT §2: the log can fan out to more than one; issue 21's `--backups K`):
// for each, its logging channel, how far it has acknowledged and replayed, and whether the Output Rule
// counts it yet. An output is released once every counted backup has acknowledged it. A clone counts
// from its first ack (its checkpoint restored): until then the others' acks release outputs, and it has
// every entry after its checkpoint anyway. A backup the primary declares dead (dead()) counts no more.
// The set also keeps the log entries some backup may still ask for again (resend-from).
import type { Channel } from '../channel';
import type { Frame, LogEntry } from '../log';

/** Entries resent at a time (go-back-N with a window: the backup asks again for the rest). */
const RESEND_WINDOW = 1024;

interface Member {
  readonly channel: Channel;
  /** Every entry up to here received (a clone: from its checkpoint on). */
  acked: number;
  /** Its machine's instruction count, as its last ack or heartbeat said. */
  at: number;
  /** A clone restoring its checkpoint: not counted until its first ack. */
  restoring: boolean;
  heardAt: number;
}

export class BackupSet {
  private members: Member[] = [];
  private lastCheck = performance.now();
  /** Entries not yet acknowledged by every backup, oldest first. */
  private kept: LogEntry[] = [];
  /** The boundary whose first output marker was flushed, and whether outputs after it wait for the slice's end. */
  private flushedAt: number | undefined;
  private burstUnflushed = false;

  get size(): number {
    return this.members.length;
  }

  get isEmpty(): boolean {
    return this.members.length === 0;
  }

  /** The oldest backup's channel: the only one in checkpoint mode; what stats and channel faults use. */
  get first(): Channel | undefined {
    return this.members[0]?.channel;
  }

  has(channel: Channel): boolean {
    return this.members.some((m) => m.channel === channel);
  }

  isRestoring(channel: Channel): boolean {
    return this.memberOf(channel)?.restoring ?? false;
  }

  /** Whether the Output Rule counts any backup (false while there is none, or only clones restoring). */
  get anyCounted(): boolean {
    return this.members.some((m) => !m.restoring);
  }

  /** A clone still restoring with its channel open: it is given time. */
  get anyRestoring(): boolean {
    return this.members.some((m) => m.restoring && !m.channel.isClosed);
  }

  /** Some connected backup, a clone restoring included, has not acknowledged `seq` yet. */
  behind(seq: number): boolean {
    return this.members.some((m) => !m.channel.isClosed && m.acked < seq);
  }

  /** Whether a backup other than `channel` is connected. */
  othersOpen(channel: Channel): boolean {
    return this.members.some((m) => m.channel !== channel && !m.channel.isClosed);
  }

  /** Every entry up to here is acknowledged by every counted backup (undefined while none is counted). */
  get ackedByAll(): number | undefined {
    const counted = this.members.filter((m) => !m.restoring);
    return counted.length ? Math.min(...counted.map((m) => m.acked)) : undefined;
  }

  /** The oldest entry kept for resending (the next one to be logged when none is). */
  oldestKept(next: number): number {
    return this.kept[0]?.seq ?? next;
  }

  keep(entry: LogEntry): void {
    this.kept.push(entry);
  }

  forgetKept(): void {
    this.kept = [];
  }

  /** What every backup has acknowledged is resent no more. */
  trimKept(): void {
    if (!this.members.length) return;
    const acked = Math.min(...this.members.map((m) => m.acked));
    const first = this.kept.findIndex((e) => e.seq > acked);
    this.kept = first < 0 ? [] : this.kept.slice(first);
  }

  /** Resends a window of entries from `seq` on to one backup; how many. */
  resend(channel: Channel, seq: number): number {
    const entries = this.kept.filter((e) => e.seq >= seq && e.seq < seq + RESEND_WINDOW);
    for (const entry of entries) channel.send(entry);
    return entries.length;
  }

  /** The slowest counted backup's instruction count (the primary's lag is measured against it). */
  get slowestAt(): number | undefined {
    const counted = this.members.filter((m) => !m.restoring);
    return counted.length ? Math.min(...counted.map((m) => m.at)) : undefined;
  }

  add(channel: Channel, acked: number, restoring: boolean): void {
    this.members.push({ channel, acked, at: 0, restoring, heardAt: performance.now() });
  }

  /** Destroys the backup's channel and forgets it. */
  remove(channel: Channel): void {
    channel.destroy();
    this.members = this.members.filter((m) => m.channel !== channel);
  }

  /** Room for one more of `wanted` backups: closed ones go, then the oldest. */
  makeRoom(wanted: number): void {
    this.removeClosed();
    while (this.members.length >= wanted) this.remove(this.members[0].channel);
  }

  /** Forgets the backups whose channels have closed. */
  removeClosed(): void {
    this.members = this.members.filter((m) => !m.channel.isClosed);
  }

  /** Destroys every channel but `keep`'s. */
  keepOnly(keep?: Channel): void {
    for (const m of this.members) if (m.channel !== keep) m.channel.destroy();
    this.members = this.members.filter((m) => m.channel === keep);
  }

  closeAll(reason: string): void {
    for (const m of this.members) void m.channel.close(reason);
  }

  /** Any frame proves the backup alive; an ack or heartbeat also says how far it has replayed. */
  heard(channel: Channel, at?: number): boolean {
    const member = this.memberOf(channel);
    if (!member) return false;
    member.heardAt = performance.now();
    if (at !== undefined) member.at = at;
    return true;
  }

  /**
   * The backup has received every entry up to `seq`. A clone's first ack (it counts from now) returns the seq its
   * checkpoint was taken at; any other, undefined.
   */
  acknowledge(channel: Channel, seq: number): number | undefined {
    const member = this.memberOf(channel);
    if (!member) return undefined;
    const clonedAt = member.restoring ? member.acked : undefined;
    member.restoring = false;
    member.acked = Math.max(member.acked, seq);
    return clonedAt;
  }

  /**
   * The backups to declare dead: channel closed, or counted and silent longer than `timeoutMs`, but only
   * while another counted backup is alive (the last one goes by the pair's rules: the arbiter, or a view).
   * A check long after the last one means this process stalled: the silence was its own, not theirs.
   */
  dead(timeoutMs: number): Channel[] {
    const now = performance.now();
    if (now - this.lastCheck > timeoutMs / 2) for (const m of this.members) m.heardAt = now;
    this.lastCheck = now;
    const isDead = (m: Member) => m.channel.isClosed || (!m.restoring && now - m.heardAt > timeoutMs);
    if (!this.members.some((m) => !m.restoring && !isDead(m))) return [];
    return this.members.filter(isDead).map((m) => m.channel);
  }

  /**
   * Sends to every connected backup; false if none is. A slice's first output marker leaves at once: an output
   * waits for its ack, so its round trip starts now, before the rest of the slice's end (an epoch's hashing). The
   * slice's other outputs (a burst of frames) leave together when it ends (endSlice): one write syscall and one
   * wake-up of the backup for the burst, not one per frame. A disk write is awaited by no one but the outputs after
   * it, which flush it with theirs: it leaves at the turn's end, without a write of its own (docs/ft.md, "Disks").
   */
  send(frame: Frame): boolean {
    const output = frame.kind === 'output' && frame.device !== 'disk';
    const first = output && frame.at !== this.flushedAt;
    if (first) this.flushedAt = frame.at;
    else if (output) this.burstUnflushed = true;
    let sent = false;
    for (const { channel } of this.members) {
      if (channel.isClosed) continue;
      channel.send(frame);
      if (first) channel.flush();
      sent = true;
    }
    return sent;
  }

  /** The slice has ended: the outputs it made after its first leave now, in one write per backup. */
  endSlice(): void {
    if (!this.burstUnflushed) return;
    this.burstUnflushed = false;
    for (const { channel } of this.members) if (!channel.isClosed) channel.flush();
  }

  private memberOf(channel: Channel): Member | undefined {
    return this.members.find((m) => m.channel === channel);
  }
}
