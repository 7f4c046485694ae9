// The firm editor: reorder the items of a list by keyboard (↑ ↓ buttons, focus kept) or by dragging.
// Without this script the same buttons post the form and the server moves the item.
// Inputs are named by their key path (call_types[1].label): after a move, every name, id and
// reference inside a moved item is renumbered to its new place, so the form posts the new order.
(function () {
  const form = document.getElementById("editor");
  if (!form) return;
  const status = document.getElementById("editor-status");
  const ATTRS = ["name", "id", "for", "data-item", "data-list", "aria-describedby", "href"];

  function itemsOf(list) {
    return [...list.querySelector(":scope > .items").children];
  }

  function renumber(list) {
    itemsOf(list).forEach((item, i) => {
      const old = item.dataset.item, now = `${list.dataset.list}[${i}]`;
      if (old === now) return;
      for (const el of [item, ...item.querySelectorAll("*")]) {
        for (const attr of el.tagName === "BUTTON" ? [...ATTRS, "value"] : ATTRS) {
          const value = el.getAttribute(attr);
          if (value && value.includes(old)) el.setAttribute(attr, value.split(old).join(now));
        }
      }
    });
  }

  function moved(item, focus) {
    const list = item.closest("[data-list]");
    renumber(list);
    if (focus) focus.focus();
    const position = itemsOf(list).indexOf(item) + 1;
    status.textContent = `${position} / ${itemsOf(list).length}`;
    form.dispatchEvent(new Event("moved"));
  }

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-move]");
    if (!button) return;
    event.preventDefault();
    const item = button.closest(".item");
    const other = button.dataset.move === "up" ? item.previousElementSibling : item.nextElementSibling;
    if (!other) return;
    if (button.dataset.move === "up") other.before(item); else other.after(item);
    moved(item, button);
  });

  // Dragging: only by the handle, so selecting text in an input still works.
  let dragged = null;
  form.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest(".handle");
    if (handle) handle.closest(".item").draggable = true;
  });
  form.addEventListener("dragstart", (event) => {
    dragged = event.target.closest(".item");
    if (!dragged) return;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.item);
    dragged.classList.add("dragging");
  });
  form.addEventListener("dragover", (event) => {
    const over = dragged && event.target.closest(".item");
    if (!over || over === dragged || over.parentElement !== dragged.parentElement) return;
    event.preventDefault();
    const box = over.getBoundingClientRect();
    if (event.clientY < box.top + box.height / 2) over.before(dragged); else over.after(dragged);
  });
  form.addEventListener("drop", (event) => { if (dragged) event.preventDefault(); });
  form.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged.draggable = false;
    moved(dragged, null);
    dragged = null;
  });

  // After the server added an item or checked the form: go to the new item, the diff or the problems.
  const target = document.querySelector("[data-focus]");
  if (target) {
    const input = target.matches("section") ? target : target.querySelector("input:not([type=hidden]), select, textarea");
    (input || target).focus();
    target.scrollIntoView({ block: "start" });
  }
})();
