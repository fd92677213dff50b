// How a host page uses the module; `make test` type-checks it (tsc, strict) against saveflow.d.ts.
import SaveFlowDefault, { open, prepare, type OfferKind, type Result } from "./saveflow.mjs";

const button = document.querySelector<HTMLButtonElement>("#cancel");

async function tokenForThisClick(): Promise<string> {
  return (await fetch("/billing/saveflow-token")).text();
}

button?.addEventListener("pointerenter", async () => prepare({ token: await tokenForThisClick() }));
button?.addEventListener("click", async () => {
  const result: Result = await open({ token: await tokenForThisClick(), baseUrl: "https://saveflow.example.com" });
  if (result.outcome === "saved" && result.offer) {
    const kind: OfferKind = result.offer.kind;
    console.log(`saved by a ${kind} offer (${result.offer.id}) in session ${result.sessionId ?? "?"}`);
  }
  if (result.outcome !== "abandoned") location.reload();
});

window.addEventListener("saveflow:step", (event) => console.log(event.detail.step));
window.addEventListener("saveflow:close", (event) => console.log(event.detail.outcome));
void SaveFlowDefault.open({ token: "…", theme: "auto" });
