// The operator's keys (console and screen pop), listed on screen by templates/console/_keys.html.
// Alt+letter and Ctrl+Enter, matched on the physical key (event.code) so the layout and the IME's
// state do not matter; none is a browser's (Chrome and Edge: Alt+D, Alt+E, Alt+F; Firefox's menus: Alt+F E V S B T H)
// or the IME's (Alt+`, Alt+Shift, Ctrl+Shift). Keys pressed while the IME composes are the IME's.
(() => {
  const ALT_KEYS = {
    KeyN: takeNext,
    KeyR: confirmReadBack,
    KeyK: () => focus("#call-type"),
    KeyC: () => focus("#category"),
    KeyU: toggleUrgent,
    KeyX: () => focus("#message-panel .noise button"),
  };

  function focus(selector) {
    const element = document.querySelector(selector);
    if (element) element.focus();
    return Boolean(element);
  }

  // A change the page's own handlers see, as if the box had been clicked: the read-back value is kept
  // beside it (app.js) and the draft is saved.
  function toggle(box) {
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", {bubbles: true}));
  }

  function confirmReadBack() {
    const here = document.activeElement;
    if (!here || !here.form || here.form.id !== "message-form") return false;
    const box = here.matches("input[data-confirms]") ? here
      : here.form.querySelector(`input[data-confirms="${here.id}"]`);
    if (box) toggle(box);
    return Boolean(box);
  }

  function toggleUrgent() {
    const box = document.querySelector("#message-form #urgent");
    if (box) toggle(box);
    return Boolean(box);
  }

  // On the console: take the longest-waiting call (the list is in arrival order). On a screen pop whose
  // message is saved: back to the console, and take the next call there. With a form still open,
  // nothing: the call is not finished.
  let takeOnArrival = false;
  function takeNext() {
    const button = document.querySelector("#waiting li.waiting-call button.take");
    if (button) {
      button.click();
      return true;
    }
    const back = document.querySelector('.screen-pop a[href="/console"]');
    if (!back || document.getElementById("message-form")) return false;
    takeOnArrival = true;
    back.click();
    return true;
  }
  document.addEventListener("htmx:afterSettle", () => {
    if (takeOnArrival && document.getElementById("waiting")) {
      takeOnArrival = false;
      const button = document.querySelector("#waiting li.waiting-call button.take");
      if (button) button.click();
    }
  });

  // Enter in a one-line field goes to the next field, as Tab does, instead of saving a half-taken
  // message; Enter on the save button still saves.
  const STEPS = '[name^="field."]:not([type="hidden"]), [name^="pick."], #category, #urgent, button[type="submit"]';
  function nextField(here) {
    // The first step after this element in the page (from a read-back box or the call type too).
    // Only a step that shows: the addressee's free-text box is hidden until 「その他…」 is chosen.
    const next = [...here.form.querySelectorAll(STEPS)].find(
      (step) => here.compareDocumentPosition(step) & Node.DOCUMENT_POSITION_FOLLOWING && step.offsetParent !== null);
    if (next) next.focus();
  }

  document.addEventListener("keydown", (event) => {
    if (event.isComposing || event.keyCode === 229) return;
    if (event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey && ALT_KEYS[event.code]) {
      if (ALT_KEYS[event.code]()) event.preventDefault();
      return;
    }
    const form = document.getElementById("message-form");
    if (!form || event.key !== "Enter" || event.altKey || event.shiftKey || event.metaKey) return;
    const here = event.target;
    if (here.form && here.form !== form) return;  // another form's Enter (the escalation) is its own
    if (event.ctrlKey) {
      event.preventDefault();
      form.requestSubmit(form.querySelector('button[type="submit"]'));
      return;
    }
    if (here.form === form && here.matches("input, select")) {
      event.preventDefault();
      nextField(here);
    }
  });

  // Where the operator starts typing: the first field when the screen pops, the first field the server
  // refused after a save. Only after the pop or the form is swapped in, so a board refresh never moves
  // the cursor.
  let placeCursor = false;
  document.addEventListener("htmx:beforeSwap", (event) => {
    placeCursor = ["main", "message-panel"].includes(event.detail.target.id);
  });
  function startTyping() {
    const form = document.getElementById("message-form");
    if (!form) return;
    const here = document.activeElement;
    const refused = form.querySelector('[aria-invalid="true"]');
    if (refused && !(here && here.matches('[aria-invalid="true"]'))) refused.focus();
    else if (!form.contains(here)) {
      const first = form.querySelector('[name^="field."]:not([type="hidden"])');
      if (first) first.focus();
    }
  }
  document.addEventListener("htmx:afterSettle", () => {
    if (placeCursor) startTyping();
    placeCursor = false;
  });
  document.addEventListener("DOMContentLoaded", startTyping);
})();
