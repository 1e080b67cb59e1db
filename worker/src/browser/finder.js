// Finds the element a step's locator names, in the current frame and every open shadow
// root below it. Returns null, or [the element (serialized by WebDriver as a reference),
// the facts a step needs about it]: asked here, they cost no command of their own.
// arguments: [strategy ("css" | "xpath" | "text" | "label"), value]
const [strategy, value] = arguments;
const found = (() => {
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().replace(/[\s:*]+$/, '').toLowerCase();
const want = norm(value);
function roots(start) {
  const out = [start];
  const walk = (root) => {
    const all = root.querySelectorAll('*');
    for (const el of all) {
      if (el.shadowRoot) { out.push(el.shadowRoot); walk(el.shadowRoot); }
    }
  };
  walk(start);
  return out;
}
const all = roots(document);
const visible = (el) => {
  const r = el.getBoundingClientRect();
  const st = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none';
};
const pick = (list) => list.find(visible) || list[0] || null;
const textOf = (el) => norm(el.innerText || el.textContent || el.value || '');
const byId = (root, id) => (root.getElementById ? root.getElementById(id) : root.querySelector('#' + CSS.escape(id)));
if (strategy === 'css') {
  const found = [];
  for (const r of all) { for (const el of r.querySelectorAll(value)) found.push(el); }
  return pick(found);
}
if (strategy === 'xpath') {
  const found = [];
  for (const r of all) {
    const ctx = r === document ? document : r;
    try {
      const res = document.evaluate(value, ctx, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
      for (let i = 0; i < res.snapshotLength; i++) {
        const n = res.snapshotItem(i);
        if (n.nodeType === 1 && !found.includes(n)) found.push(n);
      }
    } catch (e) { if (r === document) throw e; }
  }
  return pick(found);
}
if (strategy === 'text') {
  const exact = [], partial = [];
  for (const r of all) {
    for (const el of r.querySelectorAll('a, button, input[type=submit], input[type=button], label, summary, [role=button], [role=link], [role=tab], [role=menuitem], option, h1, h2, h3, h4, p, span, div, li, td')) {
      const t = textOf(el);
      if (!t) continue;
      if (t === want) exact.push(el);
      else if (t.includes(want)) partial.push(el);
    }
  }
  // The innermost match: a <span> inside the <button> names the button, not the page.
  const innermost = (list) => list.filter((el) => !list.some((o) => o !== el && el.contains(o)));
  const clickable = (list) => {
    const inner = innermost(list);
    return inner.map((el) => el.closest('a, button, [role=button], [role=link], label, summary') || el);
  };
  return pick(clickable(exact)) || pick(clickable(partial));
}
if (strategy === 'label') {
  const fields = [];
  for (const r of all) {
    for (const el of r.querySelectorAll('input:not([type=hidden]), select, textarea, [contenteditable=""], [contenteditable=true], [role=textbox], [role=combobox], [role=checkbox]')) fields.push(el);
  }
  const names = (el) => {
    const out = [];
    const root = el.getRootNode();
    if (el.labels) for (const l of el.labels) out.push(textOf(l));
    if (el.id) {
      for (const l of (root.querySelectorAll ? root.querySelectorAll('label[for="' + CSS.escape(el.id) + '"]') : [])) out.push(textOf(l));
    }
    const wrap = el.closest('label');
    if (wrap) out.push(textOf(wrap));
    if (el.getAttribute('aria-label')) out.push(norm(el.getAttribute('aria-label')));
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const text = by.split(/\s+/).map((id) => { const n = byId(root, id) || document.getElementById(id); return n ? (n.innerText || n.textContent || '') : ''; }).join(' ');
      out.push(norm(text));
    }
    if (el.getAttribute('placeholder')) out.push(norm(el.getAttribute('placeholder')));
    return out.filter(Boolean);
  };
  const exact = fields.filter((el) => names(el).some((n) => n === want));
  if (exact.length) return pick(exact);
  return pick(fields.filter((el) => names(el).some((n) => n.startsWith(want) || n.includes(want))));
}
throw new Error('unknown locator strategy ' + strategy);
})();
if (!found) return null;
// Shown as WebDriver's "is displayed" means it: a box, and neither hidden nor transparent.
const box = found.getBoundingClientRect();
const style = getComputedStyle(found);
const displayed = box.width > 0 && box.height > 0 && (found.checkVisibility
  ? found.checkVisibility({ opacityProperty: true, visibilityProperty: true })
  : style.visibility !== 'hidden' && style.display !== 'none' && style.opacity !== '0');
return [found, {
  displayed,
  kind: (found.type || found.tagName || '').toLowerCase(),
  maxLength: found.maxLength > 0 ? found.maxLength : -1,
  empty: !found.value,
}];
