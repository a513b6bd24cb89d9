// The WAI-ARIA toolbar pattern for a row of buttons: the toolbar is one tab stop (the button last
// focused there, or the first enabled one), and arrow keys, Home and End move among its enabled
// buttons, wrapping around.

/** Makes `toolbar` such a toolbar; call the function returned after enabling or disabling buttons. */
export function rovingToolbar(toolbar: HTMLElement, buttons: HTMLButtonElement[]): () => void {
  let current = 0;
  const update = () => {
    if (buttons[current]?.disabled) current = Math.max(0, buttons.findIndex((b) => !b.disabled));
    buttons.forEach((b, i) => { b.tabIndex = i === current ? 0 : -1; });
  };
  toolbar.addEventListener('keydown', (event) => {
    const enabled = buttons.filter((b) => !b.disabled);
    const at = enabled.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity }[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const next = step === -Infinity
      ? 0
      : step === Infinity ? enabled.length - 1 : (at + step + enabled.length) % enabled.length;
    current = buttons.indexOf(enabled[next]);
    update();
    enabled[next].focus();
  });
  toolbar.addEventListener('focusin', (event) => {
    const index = buttons.indexOf(event.target as HTMLButtonElement);
    if (index >= 0) {
      current = index;
      update();
    }
  });
  update();
  return update;
}
