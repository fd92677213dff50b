// How a host page uses the module; `make test` type-checks it (tsc, strict) against saveflow.d.mts.
import SaveFlowDefault, { open, prepare, type OfferKind, type Result } from "./saveflow.mjs";

const button = document.querySelector<HTMLButtonElement>("#cancel");

async function tokenForThisClick(): Promise<string> {
  return (await fetch("/billing/saveflow-token")).text();
}

const baseUrl = "https://saveflow.example.com";

button?.addEventListener("pointerenter", async () => prepare({ token: await tokenForThisClick(), baseUrl }));
button?.addEventListener("click", async () => {
  const result: Result = await open({ token: await tokenForThisClick(), baseUrl });
  if (result.outcome === "saved" && result.offer) {
    const kind: OfferKind = result.offer.kind;
    console.log(`saved by a ${kind} offer (${result.offer.id}) in session ${result.sessionId ?? "?"}`);
  }
  if (result.outcome !== "abandoned") location.reload();
});

window.addEventListener("saveflow:step", (event) => console.log(event.detail.step ?? "loading"));
window.addEventListener("saveflow:close", (event) => console.log(event.detail.outcome));
void SaveFlowDefault.open({ token: "…", baseUrl, theme: "auto" });
