// Every htmx request carries the page's CSRF token (forms carry it as a hidden field).
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});

// Waiting-time counters tick in the browser; the server sends arrival times and its own clock
// with every list, so a wrong client clock does not show wrong waits.
function tickWaitTimers() {
  const list = document.querySelector("[data-server-now]");
  if (!list) return;
  if (list.dataset.offset === undefined) {
    list.dataset.offset = String(Date.parse(list.dataset.serverNow) - Date.now());
  }
  const now = Date.now() + Number(list.dataset.offset);
  for (const timer of list.querySelectorAll(".wait-timer")) {
    const seconds = Math.max(0, Math.floor((now - Date.parse(timer.dataset.since)) / 1000));
    timer.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    timer.classList.toggle("long", seconds >= 30);
  }
  // A call offered to another operator opens to this one when its head start is over.
  for (const button of list.querySelectorAll("button[data-open-at]")) {
    const left = Math.ceil((Date.parse(button.dataset.openAt) - now) / 1000);
    if (left > 0) {
      button.textContent = button.dataset.waitingLabel.replace("{n}", left);
    } else {
      button.removeAttribute("data-open-at");
      button.disabled = false;
      button.classList.add("primary");
      button.textContent = button.dataset.label;
    }
  }
}
setInterval(tickWaitTimers, 1000);
document.addEventListener("htmx:afterSwap", tickWaitTimers);
document.addEventListener("htmx:sseMessage", tickWaitTimers);
document.addEventListener("DOMContentLoaded", tickWaitTimers);

// The console shows whether its live connection is up; tests wait for it too.
document.addEventListener("htmx:sseOpen", () => { document.body.dataset.live = "1"; });
document.addEventListener("htmx:sseError", () => { document.body.dataset.live = "0"; });

// Read-back (復唱): ticking a field's box confirms the value it holds now, kept beside it; editing
// the field afterwards withdraws the confirmation. The server checks the same pair, so a box that
// stayed ticked over a changed value is refused there too.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!box.matches || !box.matches("input[data-confirms]")) return;
  const field = document.getElementById(box.dataset.confirms);
  box.form.elements["confirmed." + box.value].value = box.checked && field ? field.value : "";
});
document.addEventListener("input", (event) => {
  const field = event.target;
  if (!field.form || !field.id) return;
  const box = field.form.querySelector(`input[data-confirms="${field.id}"]`);
  if (!box) return;
  const kept = field.form.elements["confirmed." + box.value];
  if (box.checked && field.value !== kept.value) {
    box.checked = false;
    kept.value = "";
  }
});

// The screen pop's board refreshes itself at the next moment it changes by itself (someone back
// "in" at their "until", a notice starting or ending); changes the firm makes arrive over the stream.
function scheduleBoardRefresh() {
  for (const board of document.querySelectorAll("[data-refresh-at]:not([data-scheduled])")) {
    board.dataset.scheduled = "1";
    // Both times are the server's, so a wrong client clock does not shift it.
    const delay = Date.parse(board.dataset.refreshAt) - Date.parse(board.dataset.boardNow) + 500;
    // A long wait is cut short (timers overflow past ~24 days); the refresh schedules the next one.
    setTimeout(() => { if (document.body.contains(board)) htmx.trigger(board, "refresh"); },
               Math.min(Math.max(delay, 0), 6 * 3600 * 1000));
  }
}
document.addEventListener("htmx:load", scheduleBoardRefresh);
document.addEventListener("DOMContentLoaded", scheduleBoardRefresh);

// The new-firm wizard: the 名乗り follows the name (in the firm's language) until it is edited by
// hand; an hours template fills the day fields, and editing a day makes the hours "as set below".
function wizardPhrase(form) {
  const phrase = form.elements.answer_phrase;
  const name = form.elements.name.value.trim();
  const template = phrase.dataset["phrase" + (form.elements.language.value === "en" ? "En" : "Ja")];
  return name ? template.replace("{name}", name) : "";
}
document.addEventListener("input", (event) => {
  const form = event.target.form;
  if (!form || !form.matches("form.wizard")) return;
  if (event.target.name === "answer_phrase") {
    event.target.dataset.edited = event.target.value ? "1" : "";
  } else if (event.target.matches("[data-day]")) {
    form.querySelector('input[name="hours_template"][value="custom"]').checked = true;
  }
});
document.addEventListener("input", (event) => {
  const form = event.target.form;
  if (!form || !form.matches("form.wizard") || !event.target.matches("[data-phrase-name]")) return;
  if (!form.elements.answer_phrase.dataset.edited) form.elements.answer_phrase.value = wizardPhrase(form);
});
document.addEventListener("change", (event) => {
  const input = event.target;
  const form = input.form;
  if (!form || !form.matches("form.wizard")) return;
  if (input.matches("[data-phrase-language]") && !form.elements.answer_phrase.dataset.edited) {
    form.elements.answer_phrase.value = wizardPhrase(form);
  }
  if (input.name === "hours_template") {
    const days = form.querySelector(".day-hours");
    days.hidden = input.hasAttribute("data-always");
    const hours = JSON.parse(input.dataset.hours || "{}");
    for (const [day, value] of Object.entries(hours)) form.elements["hours-" + day].value = value;
  }
});
