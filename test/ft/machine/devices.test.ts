// v86's devices as a machine fixes them (src/ft/machine/devices.ts): here, the 8259 pair's cascade.
import { strict as assert } from 'node:assert';
import { loadImage, Machine, Recorder } from '../../../src/ft/machine';
import { TEST_EPOCH } from '../../support/guests';

/** What the test reaches inside v86: its CPU's interrupt lines and the 8259s' state in wasm memory. */
interface WithPic {
  cpu: {
    wasm_memory: WebAssembly.Memory;
    get_pic_addr_master(): number;
    get_pic_addr_slave(): number;
    device_raise_irq(irq: number): void;
    device_lower_irq(irq: number): void;
  };
}
// v86's 8259 state layout (as its get_state_pic reads it): enabled lines, in-service, requests, trigger mode.
const IRQ_ENABLED = 0;
const ISR = 2;
const IRR = 3;
const ELCR = 10;
const CASCADE = 1 << 2;
/** The NE2000's line on the linux guest (SeaBIOS routes PCI interrupts to 10 and 11, level-triggered). */
const CARD_IRQ = 10;
const CARD_BIT = 1 << (CARD_IRQ - 8);

describe("v86's 8259 cascade (a slave interrupt withdrawn before the CPU takes it)", () => {
  let machine: Machine;
  let cpu: WithPic['cpu'];
  const pic = (which: 'master' | 'slave') => {
    const address = which === 'master' ? cpu.get_pic_addr_master() : cpu.get_pic_addr_slave();
    return new Uint8Array(cpu.wasm_memory.buffer, address, 13);
  };

  beforeEach(async () => {
    machine = await Machine.create({ image: loadImage('spin'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH });
    cpu = (machine as unknown as WithPic).cpu;
    // As the linux guest has them: IRQ 2 enabled in the master, the card's line enabled and level-triggered.
    pic('master')[IRQ_ENABLED] |= CASCADE;
    pic('slave')[IRQ_ENABLED] |= CARD_BIT;
    pic('slave')[ELCR] |= CARD_BIT;
  });

  afterEach(() => machine.destroy());

  it('leaves no request latched in the master: the CPU will not take IRQ 2 and find nothing (IRQ 2 in service for ever)', () => {
    cpu.device_raise_irq(CARD_IRQ);
    assert.equal(pic('master')[IRR] & CASCADE, CASCADE, 'the card asks: the master latches IRQ 2');
    // The driver masks the card (IMR=0) with interrupts off, before the CPU took the interrupt.
    cpu.device_lower_irq(CARD_IRQ);
    assert.equal(pic('slave')[IRR] & CARD_BIT, 0, 'the slave no longer asks');
    assert.equal(pic('master')[IRR] & CASCADE, 0, 'nor does the master');
    assert.equal(pic('master')[ISR] & CASCADE, 0);
    // Unmasked again, the card's interrupt is a new request.
    cpu.device_raise_irq(CARD_IRQ);
    assert.equal(pic('master')[IRR] & CASCADE, CASCADE);
  });

  it('keeps a request the slave still holds (an edge-triggered line latched in the slave)', () => {
    pic('slave')[ELCR] &= ~CARD_BIT;
    cpu.device_raise_irq(CARD_IRQ);
    cpu.device_lower_irq(CARD_IRQ);
    assert.equal(pic('slave')[IRR] & CARD_BIT, CARD_BIT, 'the slave keeps the edge it saw');
    assert.equal(pic('master')[IRR] & CASCADE, CASCADE, 'so the master keeps asking');
  });
});
