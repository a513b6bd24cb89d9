// A virtualized ARIA grid: any number of fixed-height rows, of which only those in view (plus a few)
// are in the DOM, recycled as the view scrolls. The grid element keeps the keyboard focus and
// points at the active row with aria-activedescendant, so focus survives rows being recycled.
// Fixed row heights make the windowing plain arithmetic, which is why there is no library here.
//
// Browsers cap an element's height (Chromium at about 33.5 M px), so past MAX_SCROLL_PX the
// scrollbar's range is scaled onto the rows: every row stays reachable, and the visible rows are
// placed relative to the scroll position.

export interface GridColumn<T> {
  title: string;
  /** Class on the header and cells (widths and alignment come from panel.css). */
  className: string;
  render(cell: HTMLElement, row: T): void;
}

export interface GridOptions<T> {
  /** Prefix of the element ids; also a class on the grid. */
  id: string;
  label: string;
  columns: GridColumn<T>[];
  row(index: number): T;
  rowClass?(row: T): string;
  /** A short description of the row for assistive technology. */
  rowLabel?(row: T): string;
  /** Click, Enter or Space on a row. */
  onActivate?(row: T, index: number): void;
  emptyText: string;
  rowHeight?: number;
}

const MAX_SCROLL_PX = 8_000_000;
const OVERSCAN = 6;

export class VirtualGrid<T> {
  readonly element: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly pool: HTMLElement[] = [];
  private readonly rowHeight: number;
  private count = 0;
  private active = -1;
  private frame = 0;
  /** Keep the newest row in view as rows are added (on while the view is at the bottom). */
  private following = true;
  private onFollowChange: ((following: boolean) => void) | undefined;

  constructor(private readonly options: GridOptions<T>) {
    this.rowHeight = options.rowHeight ?? 22;
    const grid = el('div', `grid ${options.id}`);
    grid.id = options.id;
    grid.setAttribute('role', 'grid');
    grid.setAttribute('aria-label', options.label);
    grid.setAttribute('aria-colcount', String(options.columns.length));
    grid.tabIndex = 0;

    const head = el('div', 'grid-head');
    head.setAttribute('role', 'rowgroup');
    const headRow = el('div', 'grid-row');
    headRow.setAttribute('role', 'row');
    headRow.setAttribute('aria-rowindex', '1');
    for (const column of options.columns) {
      const cell = el('div', `grid-cell ${column.className}`);
      cell.setAttribute('role', 'columnheader');
      cell.textContent = column.title;
      headRow.append(cell);
    }
    head.append(headRow);

    this.viewport = el('div', 'grid-viewport');
    this.viewport.setAttribute('role', 'rowgroup');
    // Chromium makes scrollers focusable; the grid itself is the one tab stop.
    this.viewport.tabIndex = -1;
    this.spacer = el('div', 'grid-spacer');
    this.viewport.append(this.spacer);
    this.empty = el('div', 'grid-empty');
    this.empty.textContent = options.emptyText;
    this.viewport.append(this.empty);
    grid.append(head, this.viewport);
    this.element = grid;

    this.viewport.addEventListener('scroll', () => {
      this.following = this.atBottom();
      this.onFollowChange?.(this.following);
      this.schedule();
    });
    this.spacer.addEventListener('click', (event) => {
      const row = (event.target as HTMLElement).closest<HTMLElement>('.grid-row');
      if (!row?.dataset.index) return;
      const index = Number(row.dataset.index);
      this.setActive(index, false);
      grid.focus({ preventScroll: true });
      this.activate(index);
    });
    grid.addEventListener('keydown', (event) => this.onKey(event));
    grid.addEventListener('focus', () => {
      if (this.active < 0 && this.count > 0) this.setActive(this.firstVisible(), false);
    });
    new ResizeObserver(() => this.schedule()).observe(this.viewport);
  }

  get rowCount(): number {
    return this.count;
  }

  get activeIndex(): number {
    return this.active;
  }

  get isFollowing(): boolean {
    return this.following;
  }

  /** What the grid says when it has no rows. */
  set emptyText(text: string) {
    this.empty.textContent = text;
  }

  onFollow(listener: (following: boolean) => void): void {
    this.onFollowChange = listener;
  }

  /** The rows changed: `count` of them now. Rows already shown are drawn again. */
  update(count: number): void {
    this.count = count;
    this.element.setAttribute('aria-rowcount', String(count + 1));
    this.empty.hidden = count > 0;
    if (this.active >= count) this.active = count - 1;
    this.spacer.style.height = `${Math.min(count * this.rowHeight, MAX_SCROLL_PX)}px`;
    if (this.following) this.scrollToEnd();
    this.render();
  }

  follow(on: boolean): void {
    this.following = on;
    this.onFollowChange?.(on);
    if (on) this.scrollToEnd();
    this.render();
  }

  scrollToEnd(): void {
    this.viewport.scrollTop = this.viewport.scrollHeight;
  }

  /** Makes row `index` the active one and scrolls it into view. */
  setActive(index: number, reveal = true): void {
    if (this.count === 0) return;
    this.active = Math.max(0, Math.min(this.count - 1, index));
    if (reveal) this.reveal(this.active);
    this.render();
  }

  private activate(index: number): void {
    if (index >= 0 && index < this.count) this.options.onActivate?.(this.options.row(index), index);
  }

  private onKey(event: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / this.rowHeight) - 1);
    const from = this.active < 0 ? this.firstVisible() : this.active;
    let next: number | undefined;
    switch (event.key) {
      case 'ArrowDown': next = this.active < 0 ? from : from + 1; break;
      case 'ArrowUp': next = this.active < 0 ? from : from - 1; break;
      case 'PageDown': next = from + page; break;
      case 'PageUp': next = from - page; break;
      case 'Home': next = 0; break;
      case 'End': next = this.count - 1; break;
      case 'Enter':
      case ' ':
        event.preventDefault();
        this.activate(this.active);
        return;
      default:
        return;
    }
    event.preventDefault();
    if (this.count === 0) return;
    this.setActive(next);
    // At the last row the grid follows new rows again, as a log view does.
    this.following = this.active === this.count - 1;
    this.onFollowChange?.(this.following);
  }

  // ---- geometry: scroll position <-> row offsets ----

  private get totalHeight(): number {
    return this.count * this.rowHeight;
  }

  /** Row offset (px from the first row) at the top of the view. */
  private offsetAt(scrollTop: number): number {
    const view = this.viewport.clientHeight;
    const scrollable = Math.min(this.totalHeight, MAX_SCROLL_PX) - view;
    if (this.totalHeight <= MAX_SCROLL_PX || scrollable <= 0) return scrollTop;
    return (scrollTop / scrollable) * (this.totalHeight - view);
  }

  private scrollFor(offset: number): number {
    const view = this.viewport.clientHeight;
    const scrollable = Math.min(this.totalHeight, MAX_SCROLL_PX) - view;
    if (this.totalHeight <= MAX_SCROLL_PX || scrollable <= 0) return offset;
    return (offset / (this.totalHeight - view)) * scrollable;
  }

  private firstVisible(): number {
    return Math.min(this.count - 1, Math.ceil(this.offsetAt(this.viewport.scrollTop) / this.rowHeight));
  }

  private atBottom(): boolean {
    const v = this.viewport;
    return v.scrollTop + v.clientHeight >= v.scrollHeight - 2;
  }

  private reveal(index: number): void {
    const view = this.viewport.clientHeight;
    const top = index * this.rowHeight;
    const offset = this.offsetAt(this.viewport.scrollTop);
    if (top < offset) this.viewport.scrollTop = this.scrollFor(top);
    else if (top + this.rowHeight > offset + view) {
      this.viewport.scrollTop = this.scrollFor(top + this.rowHeight - view);
    }
  }

  // ---- drawing ----

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  private render(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    const h = this.rowHeight;
    const scrollTop = this.viewport.scrollTop;
    const offset = this.offsetAt(scrollTop);
    const first = Math.max(0, Math.floor(offset / h) - OVERSCAN);
    const last = Math.min(this.count - 1, Math.floor((offset + this.viewport.clientHeight) / h) + OVERSCAN);
    const shown = Math.max(0, last - first + 1);
    while (this.pool.length < shown) this.pool.push(this.newRow());
    let activeShown = false;
    for (let k = 0; k < shown; k++) {
      const index = first + k;
      const row = this.pool[k];
      if (!row.isConnected) this.spacer.append(row);
      this.fill(row, index);
      // Offsets are relative to the scroll position, so scaled scrolling lines up too.
      row.style.transform = `translateY(${Math.round(index * h - offset + scrollTop)}px)`;
      if (index === this.active) activeShown = true;
    }
    for (let k = shown; k < this.pool.length; k++) this.pool[k].remove();
    if (activeShown) this.element.setAttribute('aria-activedescendant', this.rowId(this.active));
    else this.element.removeAttribute('aria-activedescendant');
  }

  private rowId(index: number): string {
    return `${this.options.id}-row-${index}`;
  }

  private newRow(): HTMLElement {
    const row = el('div', 'grid-row');
    row.setAttribute('role', 'row');
    for (const column of this.options.columns) {
      const cell = el('div', `grid-cell ${column.className}`);
      cell.setAttribute('role', 'gridcell');
      row.append(cell);
    }
    return row;
  }

  private fill(row: HTMLElement, index: number): void {
    const data = this.options.row(index);
    row.id = this.rowId(index);
    row.dataset.index = String(index);
    row.setAttribute('aria-rowindex', String(index + 2));
    row.setAttribute('aria-selected', String(index === this.active));
    row.className = `grid-row${index === this.active ? ' active' : ''}${index % 2 ? ' odd' : ''} ${this.options.rowClass?.(data) ?? ''}`;
    const label = this.options.rowLabel?.(data);
    if (label) row.setAttribute('aria-label', label);
    const cells = row.children;
    this.options.columns.forEach((column, i) => column.render(cells[i] as HTMLElement, data));
  }
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** A codicon glyph, hidden from assistive technology (the text next to it says the same). */
export function icon(name: string, extra = ''): HTMLElement {
  const span = el('span', `codicon codicon-${name}${extra ? ` ${extra}` : ''}`);
  span.setAttribute('aria-hidden', 'true');
  return span;
}
