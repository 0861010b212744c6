// An accessible combobox (WAI-ARIA 1.2 "list autocomplete") over /classifications/suggest.
// Arrow keys move through the suggestions, Enter picks one (or the typed text), Escape closes.

const DEBOUNCE_MS = 150;

/** Whatever shape the suggest endpoint answers with → [{symbol, title, level}] */
export function normaliseSuggestions(data) {
  const items = Array.isArray(data)
    ? data
    : data?.suggestions || data?.items || data?.results || data?.hits || [];
  return items
    .map((item) => (typeof item === "string"
      ? { symbol: item, title: "" }
      : { symbol: item.symbol || item.code || item.key || item.id || "",
          title: item.title || item.label || item.description || "",
          level: item.level ?? item.depth ?? null }))
    .filter((item) => item.symbol);
}

export class Combobox {
  constructor(input, listbox, { fetchSuggestions, onPick }) {
    this.input = input;
    this.listbox = listbox;
    this.fetchSuggestions = fetchSuggestions;
    this.onPick = onPick;
    this.options = [];
    this.active = -1;
    this.timer = null;
    this.controller = null;
    input.addEventListener("input", () => this.schedule());
    input.addEventListener("keydown", (event) => this.keydown(event));
    input.addEventListener("blur", () => setTimeout(() => this.close(), 120));
    listbox.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus in the input
    listbox.addEventListener("click", (event) => {
      const li = event.target.closest("[role=option]");
      if (li) this.pick(Number(li.dataset.index));
    });
  }

  schedule() {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (!q) { this.close(); return; }
    this.timer = setTimeout(() => this.load(q), DEBOUNCE_MS);
  }

  async load(q) {
    this.controller?.abort();
    this.controller = new AbortController();
    try {
      const data = await this.fetchSuggestions(q, this.controller.signal);
      if (this.input.value.trim() !== q) return; // typed on meanwhile
      this.render(normaliseSuggestions(data));
    } catch (err) {
      if (err.name === "AbortError") return;
      this.render([], `Suggestions unavailable: ${err.message}`);
    }
  }

  render(options, message = "") {
    this.options = options;
    this.active = -1;
    this.listbox.replaceChildren();
    options.forEach((opt, i) => {
      const li = document.createElement("li");
      li.id = `${this.listbox.id}-opt-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.index = String(i);
      li.dataset.symbol = opt.symbol;
      const sym = document.createElement("span");
      sym.className = "opt-symbol";
      sym.textContent = opt.symbol;
      const title = document.createElement("span");
      title.className = "opt-title";
      title.textContent = opt.title;
      li.append(sym, title);
      this.listbox.append(li);
    });
    if (!options.length) {
      const li = document.createElement("li");
      li.className = "opt-empty";
      li.setAttribute("aria-disabled", "true");
      li.textContent = message || "No matching classes — Enter adds the symbol as typed.";
      this.listbox.append(li);
    }
    this.open();
  }

  open() {
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
  }

  get isOpen() { return !this.listbox.hidden; }

  move(delta) {
    if (!this.options.length) return;
    if (!this.isOpen) this.open();
    this.active = (this.active + delta + this.options.length) % this.options.length;
    [...this.listbox.querySelectorAll("[role=option]")].forEach((li, i) => {
      const on = i === this.active;
      li.setAttribute("aria-selected", on ? "true" : "false");
      if (on) {
        this.input.setAttribute("aria-activedescendant", li.id);
        li.scrollIntoView({ block: "nearest" });
      }
    });
  }

  pick(index) {
    const option = this.options[index];
    if (!option) return;
    this.close();
    this.input.value = "";
    this.onPick(option);
  }

  keydown(event) {
    switch (event.key) {
      case "ArrowDown": event.preventDefault(); this.move(+1); break;
      case "ArrowUp": event.preventDefault(); this.move(-1); break;
      case "Escape":
        if (this.isOpen) { event.preventDefault(); this.close(); }
        break;
      case "Enter": {
        const typed = this.input.value.trim();
        if (this.isOpen && this.active >= 0) {
          event.preventDefault();
          this.pick(this.active);
        } else if (typed) {
          event.preventDefault(); // a typed symbol becomes a filter; an empty field lets Enter search
          clearTimeout(this.timer);
          this.controller?.abort();
          const exact = this.options.find((o) => o.symbol.toUpperCase() === typed.toUpperCase());
          this.close();
          this.input.value = "";
          this.onPick(exact || { symbol: typed, title: "" });
        }
        break;
      }
      default:
    }
  }
}
