// A backup's link to its primary, the same in both replication modes: connect to the primary's
// logging channel (again every RECONNECT_MS while the primary cannot be reached and the backup still
// wants it), apply the channel faults in force, and hand its frames and its close to the backup.
import type { ConnectOptions, LogChannel } from '../channel';
import type { Frame } from '../log';
import type { HostContext } from './hostcontext';

const RECONNECT_MS = 50;

export interface PrimaryLink<C extends LogChannel> {
  /** Opens the connection (directly, or through the replay backup's ack thread). */
  open(options: ConnectOptions): Promise<C>;
  /** Still wanted: false once the backup stops or goes live. */
  wanted(): boolean;
  frame(frame: Frame): void;
  closed(error?: Error): void;
}

/** The channel once connected; undefined when the backup stopped wanting one first. */
export async function connectToPrimary<C extends LogChannel>(
  host: HostContext,
  link: PrimaryLink<C>,
): Promise<C | undefined> {
  const { primary, secret } = host.config;
  while (link.wanted()) {
    let channel: C;
    try {
      channel = await link.open({ host: primary!.host, port: primary!.port, secret, role: 'backup', expectPeerRole: 'primary' });
    } catch (error) {
      host.say(`cannot reach the primary: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      continue;
    }
    host.configureChannel(channel);
    channel.on('message', (frame) => link.frame(frame));
    channel.on('close', (error) => link.closed(error));
    return channel;
  }
  return undefined;
}
