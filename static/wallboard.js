// The supervisors' live board and wallboard (templates/supervisor/): the parts arrive over the
// event stream; here the timers tick, waits are coloured against the service-level threshold, and
// a new escalation beeps when the supervisor turned the sound on (kept in this browser).
(() => {
  const SOUND_KEY = "dengon.wallboard.sound";
  let offset = 0; // server clock − this browser's clock, so a wrong clock does not show wrong waits
  let known = null; // the escalations already seen: only new ones beep
  let audio = null;

  const root = () => document.querySelector("[data-live-board]");

  function setClock(serverNow) {
    const at = Date.parse(serverNow);
    if (!Number.isNaN(at)) offset = at - Date.now();
  }

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    const board = root();
    if (!board) return;
    const threshold = Number(board.dataset.threshold || 20);
    const now = Date.now() + offset;
    for (const timer of board.querySelectorAll("[data-since]")) {
      const seconds = Math.max(0, Math.floor((now - Date.parse(timer.dataset.since)) / 1000));
      timer.textContent = duration(seconds);
      if (timer.hasAttribute("data-wait")) {
        timer.classList.toggle("near", seconds >= threshold * 0.75 && seconds < threshold);
        timer.classList.toggle("over", seconds >= threshold);
      }
    }
  }

  function soundOn() {
    return localStorage.getItem(SOUND_KEY) === "on";
  }

  function showSound() {
    for (const button of document.querySelectorAll("[data-sound-toggle]")) {
      const on = soundOn();
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? button.dataset.labelOn : button.dataset.labelOff;
    }
  }

  // A short two-tone beep made on the spot: no sound file to fetch.
  function beep() {
    if (!soundOn()) return;
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const t = audio.currentTime;
    for (const [start, freq] of [[0, 880], [0.25, 660]]) {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t + start);
      gain.gain.exponentialRampToValueAtTime(0.3, t + start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + start + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + start);
      osc.stop(t + start + 0.22);
    }
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  }

  function checkEscalations() {
    const ids = new Set([...document.querySelectorAll("[data-escalation]")].map((e) => e.dataset.escalation));
    if (known !== null && [...ids].some((id) => !known.has(id))) beep();
    known = ids;
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-sound-toggle]");
    if (toggle) {
      localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
      showSound();
      if (soundOn()) {
        // Browsers let a page play sound only after a click on it: this one unlocks it.
        audio = audio || new AudioContext();
        audio.resume();
      }
    }
    if (event.target.closest("[data-fullscreen]")) {
      document.documentElement.requestFullscreen?.();
    }
  });

  document.addEventListener("htmx:sseMessage", (event) => {
    const target = event.target;
    if (target.matches("[data-server-clock]")) setClock(target.textContent.trim());
    if (target.id === "wb-escalations") checkEscalations();
    tick();
  });

  function start() {
    const board = root();
    if (!board) return;
    setClock(board.dataset.clock);
    showSound();
    checkEscalations();
    tick();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  setInterval(tick, 1000);
})();
