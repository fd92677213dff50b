/** SaveFlow's embed API: open the cancel flow in a modal iframe on your page (README, "Embed it in your app"). */

/** How a session ended. "abandoned": closed before the end; "reactivated": a cancellation undone on its done screen. */
export type Outcome = "saved" | "kept" | "cancelled" | "abandoned" | "reactivated";

/** The kind of offer a customer took. */
export type OfferKind =
  | "pause"
  | "downgrade"
  | "trial_extension"
  | "training"
  | "discount"
  | "reactivate"
  | "resume"
  | "extend_pause"
  | "undo_downgrade"
  | "exit_interview";

export interface OpenOptions {
  /** The embed token your backend minted for this click (HS256 JWT; single use). */
  token: string;
  /**
   * The save-flow service's URL, e.g. "https://saveflow.example.com". Required here (the classic script served
   * at /static/embed.js finds it by itself): without it, open and prepare throw a TypeError. Buttons prepared on
   * hover (`data-saveflow-open data-token="…"`) carry it as `data-base-url`.
   */
  baseUrl: string;
  /** A language tag ("en", "de", "fr", "es"); default: the token's `locale`, then the browser's. */
  locale?: string;
  /** Default "light"; "auto" follows the visitor's colour scheme. */
  theme?: "light" | "dark" | "auto";
}

/** What `open` resolves with once the modal closes: the last outcome recorded. */
export interface Result {
  outcome: Outcome;
  /** The session's id (also in the webhooks and the server API); null if the flow never started. */
  sessionId: string | null;
  /** The offer taken, on a save or a kept subscription. */
  offer?: { kind: OfferKind; id: string };
}

/** Events fired on `window` as `saveflow:open`, `saveflow:step`, `saveflow:finished` and `saveflow:close`. */
export interface SaveFlowEventMap {
  "saveflow:open": CustomEvent<{ baseUrl: string }>;
  "saveflow:step": CustomEvent<{ step: string | null; sessionId: string | null }>;
  "saveflow:finished": CustomEvent<Result>;
  "saveflow:close": CustomEvent<Result>;
}

declare global {
  interface WindowEventMap extends SaveFlowEventMap {}
}

/** Opens the flow (or shows the one `prepare` loaded for this token) and resolves when the modal closes. */
export declare function open(options: OpenOptions): Promise<Result>;

/** Loads the flow for `options.token` ahead, hidden, so `open` shows it at once; it becomes a session once opened. */
export declare function prepare(options: OpenOptions): void;

export declare const SaveFlow: { open: typeof open; prepare: typeof prepare };
export default SaveFlow;
