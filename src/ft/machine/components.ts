// Per-component state hashes: everything but guest RAM, one hash per component (CPU registers, each
// device, the machine's own counters), so a divergence report can say which part differs.
import { Clock } from './clock';
import { OwnedPorts } from './devices';
import { StateHasher } from './hash';
import { ResolvedOptions } from './options';
import { TscState } from './tsc';
import * as v86 from './v86types';

/** The machine's state that is hashed beside guest RAM. */
export interface ComponentState {
  cpu: v86.Cpu;
  /** Received serial bytes the guest has not read (v86 keeps them outside its own snapshot). */
  serialInput: number[];
  tsc: TscState;
  ports: OwnedPorts;
  clock: Clock;
  count: number;
  idleInstructions: number;
  rtcStart: number | undefined;
}

/** One hash per component, in a fixed order; the devices hashed are the options' `hashedDevices`. */
export function componentHashes(state: ComponentState, options: ResolvedOptions): Record<string, bigint> {
  const cpu = state.cpu;
  const hash = (value: unknown) => new StateHasher().add(value).digest();
  const components: Record<string, bigint> = {
    cpu: hash(v86.CPU_STATE_FIELDS.map((field) => cpu[field])),
    pic: hash(cpu.get_state_pic()),
    'serial input': hash(state.serialInput),
    tsc: hash(state.tsc.read()),
    ports: hash([state.ports.fastA20, state.cpu.fw_pointer]),
    clock: hash([
      state.count,
      state.idleInstructions,
      state.clock.state.last,
      state.clock.state.base,
      state.rtcStart ?? null,
    ]),
  };
  for (const name of options.hashedDevices) components[name] = hash(cpu.devices[name] ?? null);
  // The IDE controller, with what the guest knows of its disk (disk.ts): only when it has one, so
  // machines without a disk hash as before.
  if (options.disk) components.disk = hash(cpu.devices.ide);
  return components;
}
