// Reads the form controls of the current frame and of every open shadow root below it:
// what a person fills (with labels, constraints and whether it is shown), the buttons,
// the iframes, and the headings and status lines (to see what a submission changed).
// Returns { fields, controls, frames, texts }.
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
const clean = (s) => norm(s).replace(/[\s:*]+$/, '').trim();
const key = (s) => clean(s).toLowerCase();

const roots = [];
(function walk(root, hostEls) {
  roots.push({ root, hostEls });
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot, hostEls.concat([el]));
  }
})(document, []);
for (const r of roots) r.hosts = r.hostEls.map(cssPath);

function rootOf(el) { return el.getRootNode(); }

// A short CSS locator for `el`: an id, a unique name, its tag, else a path of
// nth-of-type steps from the nearest ancestor with an id (at most 4 steps). Unique across
// the frame's document and all its open shadow roots, since the finder searches them all.
function cssPath(el) {
  const tag = el.tagName.toLowerCase();
  const unique = (sel) => {
    try { return roots.reduce((n, r) => n + r.root.querySelectorAll(sel).length, 0) === 1; } catch (e) { return false; }
  };
  if (el.id && unique(tag + '#' + CSS.escape(el.id))) return tag + '#' + CSS.escape(el.id);
  const name = el.getAttribute('name');
  if (name) {
    const sel = tag + '[name="' + name.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"]';
    if (unique(sel)) return sel;
  }
  if (unique(tag)) return tag;
  const parts = [];
  let node = el;
  for (let depth = 0; node && node.nodeType === 1 && depth < 4; depth++) {
    const t = node.tagName.toLowerCase();
    if (node !== el && node.id) { parts.unshift(t + '#' + CSS.escape(node.id)); break; }
    const parent = node.parentElement;
    if (!parent) { parts.unshift(t); break; }
    const same = [...parent.children].filter((c) => c.tagName === node.tagName);
    parts.unshift(same.length > 1 ? t + ':nth-of-type(' + (same.indexOf(node) + 1) + ')' : t);
    node = parent;
  }
  return parts.join(' > ');
}

const pageWidth = Math.max(document.documentElement.scrollWidth, innerWidth);
function box(el) { return el.getBoundingClientRect(); }
function shown(el) {
  if (!el.isConnected) return false;
  if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true })) return false;
  const r = box(el);
  if (r.width <= 0 || r.height <= 0) return false;
  return !offScreen(el);
}
function offScreen(el) {
  const r = box(el);
  return r.right + scrollX <= 0 || r.bottom + scrollY <= 0 || r.left + scrollX >= pageWidth;
}

const CONTROL = 'input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]):not([type=image]), select, textarea';
const controls = [];
for (const { root, hosts } of roots) {
  for (const el of root.querySelectorAll(CONTROL)) controls.push({ el, hosts });
}

// Every name a label locator could find a field by (as the finder reads them).
function names(el) {
  const out = [];
  const root = rootOf(el);
  const text = (n) => norm(n.innerText || n.textContent || '');
  if (el.labels) for (const l of el.labels) out.push(['wrap-or-for', labelText(l, el), l]);
  const by = el.getAttribute('aria-labelledby');
  if (by) {
    const t = by.split(/\s+/).map((id) => { const n = (root.getElementById ? root.getElementById(id) : null) || document.getElementById(id); return n ? text(n) : ''; }).join(' ');
    out.push(['aria-labelledby', t]);
  }
  if (el.getAttribute('aria-label')) out.push(['aria-label', el.getAttribute('aria-label')]);
  if (el.getAttribute('placeholder')) out.push(['placeholder', el.getAttribute('placeholder')]);
  return out.filter(([, t]) => clean(t));
}
// A label's own words: a wrapping label's text without the control's (a select's options).
function labelText(label, el) {
  const copy = label.cloneNode(true);
  for (const c of copy.querySelectorAll('input, select, textarea, button')) c.remove();
  return norm(copy.innerText || copy.textContent || '');
}
function labelOf(el) {
  for (const [source, t, node] of names(el)) {
    if (source === 'wrap-or-for') {
      const viaFor = node && node.htmlFor && node.htmlFor === el.id;
      return [clean(t), viaFor ? 'for' : 'wrap'];
    }
    return [clean(t), source];
  }
  if (el.title) return [clean(el.title), 'title'];
  return [null, null];
}
function groupLabel(first) {
  const fs = first.closest('fieldset');
  const legend = fs && fs.querySelector('legend');
  if (legend && clean(legend.innerText || legend.textContent)) return [clean(legend.innerText || legend.textContent), 'legend'];
  const group = first.closest('[role=radiogroup], [role=group]');
  if (group) {
    const by = group.getAttribute('aria-labelledby');
    const n = by && (rootOf(group).getElementById ? rootOf(group).getElementById(by) : document.getElementById(by));
    if (n) return [clean(n.innerText || n.textContent), 'aria-labelledby'];
    if (group.getAttribute('aria-label')) return [clean(group.getAttribute('aria-label')), 'aria-label'];
  }
  return [null, null];
}

const TEMPTING = /(^|[_\-\s])(website|url|homepage|home_page|fax|email2|e-mail2|confirm_email|address2|nickname|hp|honeypot|honey|bot|trap|leave_?blank)([_\-\s]|$)/i;
function hints(el) {
  const out = [];
  if (el.getAttribute('tabindex') === '-1') out.push('tabindex=-1');
  const words = [el.name, el.id, typeof el.className === 'string' ? el.className : ''].join(' ');
  if (TEMPTING.test(words) || /honey|trap/i.test(words)) out.push('tempting name');
  if (el.closest('[aria-hidden=true]')) out.push('aria-hidden');
  const [label] = labelOf(el);
  if (label && /leave (this )?(field )?(empty|blank)|do not fill|don.t fill/i.test(label)) out.push('label says leave it empty');
  return out;
}
// Why the field itself (or a wrapper holding only it) is not shown.
function concealment(el, groupKey) {
  let node = el;
  while (node && node.nodeType === 1) {
    const st = getComputedStyle(node);
    if (st.display === 'none') return 'display:none';
    if (st.visibility === 'hidden') return 'visibility:hidden';
    if (offScreen(node) && box(node).width > 0) return 'off-screen';
    const parent = node.parentElement;
    if (!parent) break;
    const inside = new Set([...parent.querySelectorAll(CONTROL)].map((c) => fieldKey(c)));
    if (inside.size > 1 || (inside.size === 1 && !inside.has(groupKey))) break;
    node = parent;
  }
  return null;
}

function fieldType(el) {
  const t = (el.type || el.tagName).toLowerCase();
  return t;
}
function fieldKey(el) {
  const t = fieldType(el);
  if ((t === 'radio' || t === 'checkbox') && el.name) {
    const same = rootOf(el).querySelectorAll('input[type=' + t + '][name="' + CSS.escape(el.name) + '"]');
    if (t === 'radio' || same.length > 1) return 'group:' + t + ':' + el.name;
  }
  if (el.id) return '#' + el.id;
  if (el.name) return 'name:' + el.name;
  return 'css:' + cssPath(el);
}

// How many fields a label would find (exact, as the finder matches first).
const labelCount = new Map();
for (const { el } of controls) {
  for (const [, t] of names(el)) {
    const k = key(t);
    labelCount.set(k, (labelCount.get(k) || 0) + 1);
  }
}

const fields = [];
const seen = new Map();
for (const { el, hosts } of controls) {
  const k = fieldKey(el);
  const t = fieldType(el);
  const isGroup = k.startsWith('group:');
  if (seen.has(k)) {
    const f = seen.get(k);
    if (isGroup) {
      f.options.push(el.value);
      f.required = f.required || el.required;
      f.shown = f.shown || (!el.disabled && (shown(el) || (el.labels && [...el.labels].some(shown))));
      f.elements.push(el);
    }
    continue;
  }
  let [label, labelSource] = isGroup ? groupLabel(el) : labelOf(el);
  if (isGroup && !label) [label, labelSource] = [null, null];
  let locator;
  const exactLabel = !isGroup && labelSource && labelSource !== 'title' && label && labelCount.get(key(label)) === 1;
  if (exactLabel) locator = { label };
  else if (isGroup) locator = { css: 'input[type="' + t + '"][name="' + el.name.replace(/"/g, '\\"') + '"]' };
  else locator = { css: cssPath(el) };
  const attr = (a) => { const v = el.getAttribute(a); return v === null || v === '' ? null : v; };
  const f = {
    key: (hosts.join(' >> ') + ' | ' + k),
    htmlName: el.name || null,
    htmlId: el.id || null,
    label,
    labelSource,
    htmlType: isGroup ? t + '-group' : t,
    required: !!el.required,
    min: attr('min'),
    max: attr('max'),
    step: attr('step'),
    minLength: el.minLength >= 0 && attr('minlength') !== null ? el.minLength : null,
    maxLength: el.maxLength >= 0 && attr('maxlength') !== null ? el.maxLength : null,
    pattern: attr('pattern'),
    options: isGroup ? [el.value] : (el.tagName === 'SELECT' ? [...el.options].filter((o) => o.value !== '' && !o.disabled).map((o) => o.value) : []),
    placeholderOption: el.tagName === 'SELECT' ? [...el.options].some((o) => o.value === '') : false,
    accept: attr('accept'),
    multiple: !!el.multiple,
    locator,
    shadowPath: hosts,
    // A disabled control is not filled by anyone (pages disable what they hide).
    shown: !el.disabled && (shown(el) || (isGroup && el.labels && [...el.labels].some(shown))),
    customError: el.validity && el.validity.customError ? el.validationMessage : null,
    hints: hints(el),
    form: el.form ? cssPath(el.form) : (el.closest('form') ? cssPath(el.closest('form')) : null),
    elements: [el],
  };
  f.concealment = f.shown ? null : concealment(el, k);
  seen.set(k, f);
  fields.push(f);
}
for (const f of fields) {
  if (!f.shown && !f.concealment) f.concealment = concealment(f.elements[0], f.key.split(' | ')[1]);
  delete f.elements;
}

const buttons = [];
for (const { root, hosts } of roots) {
  for (const el of root.querySelectorAll('button, input[type=submit], input[type=button], input[type=image], [role=button], a[href]')) {
    if (!shown(el)) continue;
    const text = norm(el.innerText || el.value || el.getAttribute('aria-label') || el.title || '');
    const type = (el.getAttribute('type') || (el.tagName === 'BUTTON' ? 'submit' : '')).toLowerCase();
    const form = el.form || el.closest('form');
    const submitsForm = !!form && (el.tagName === 'BUTTON' || el.tagName === 'INPUT') && (type === 'submit' || type === 'image');
    buttons.push({ el, text, hosts, submitsForm, form: form ? cssPath(form) : null, isLink: el.tagName === 'A' });
  }
}
// A text locator when the text names this control alone (the finder matches exact texts).
const textCount = new Map();
for (const { root } of roots) {
  for (const el of root.querySelectorAll('a, button, input[type=submit], input[type=button], label, summary, [role=button], [role=link], [role=tab], [role=menuitem], option, h1, h2, h3, h4, p, span, div, li, td')) {
    const t = key(el.innerText || el.textContent || el.value || '');
    if (t) textCount.set(t, (textCount.get(t) || 0) + 1);
  }
}
const NEXT = /^(next|continue|weiter|suivant|proceed|forward|next step)\b|[→›»]\s*$/i;
const BACK = /\b(back|previous|prev|zurück|retour)\b|^[←‹«]/i;
const controlsOut = buttons.map((b) => {
  const exactText = b.text && textCount.get(key(b.text)) === 1 && !b.hosts.length;
  return {
    text: b.text,
    locator: exactText ? { text: b.text } : { css: cssPath(b.el) },
    shadowPath: b.hosts,
    submitsForm: b.submitsForm,
    form: b.form,
    next: NEXT.test(b.text) && !BACK.test(b.text),
    back: BACK.test(b.text),
    link: b.isLink,
  };
});

const frames = [];
for (const { root } of roots) {
  for (const f of root.querySelectorAll('iframe, frame')) frames.push({ locator: cssPath(f), shown: shown(f) });
}

const texts = [];
for (const { root } of roots) {
  for (const el of root.querySelectorAll('h1, h2, h3, [role=status], [role=alert], output, .success, .alert, .message, .notice')) {
    if (!shown(el)) continue;
    const t = norm(el.innerText || el.textContent || '');
    if (t && t.length <= 200) texts.push(t);
  }
}

return { fields, controls: controlsOut, frames, texts };
