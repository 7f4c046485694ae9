// The operator's browser phone (Twilio Voice SDK). It registers once per page load; console
// navigation is done in-page (htmx), so a call put through after "take" finds it registered.
(function () {
  const phone = document.getElementById("softphone");
  if (!phone || typeof Twilio === "undefined") return;
  const label = phone.querySelector(".phone-state");
  const hangup = phone.querySelector(".hangup");
  let current = null;

  function show(state) {
    phone.dataset.state = state;
    label.textContent = label.dataset["label" + state.charAt(0).toUpperCase() + state.slice(1)];
    hangup.hidden = state !== "connected";
  }

  async function token() {
    const response = await fetch(phone.dataset.tokenUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error("token: " + response.status);
    return (await response.json()).token;
  }

  async function start() {
    const device = new Twilio.Device(await token(), { closeProtection: true });
    device.on("registered", () => show("ready"));
    device.on("unregistered", () => show("offline"));
    device.on("error", () => show(device.state === "registered" ? "ready" : "offline"));
    device.on("tokenWillExpire", async () => device.updateToken(await token()));
    // Only calls this operator took are put through to them: answer at once.
    device.on("incoming", (call) => {
      current = call;
      show("ringing");
      call.on("accept", () => show("connected"));
      call.on("disconnect", () => { current = null; show("ready"); });
      call.on("cancel", () => { current = null; show("ready"); });
      call.accept();
    });
    hangup.addEventListener("click", () => current && current.disconnect());
    await device.register();
  }

  start().catch(() => show("offline"));
})();
