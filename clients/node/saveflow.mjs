// SaveFlow from a Node.js backend: mint the embed token, verify the webhooks we send.
// npm install jsonwebtoken standardwebhooks
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import { Webhook } from "standardwebhooks";

/**
 * A fresh embed token for one click on "Cancel subscription" (HS256, signed with SAVEFLOW_EMBED_SECRET).
 * `claims` may add email, first_name, locale, attrs, losses, test and return_url (see the README).
 */
export function saveflowToken(secret, customerId, subscriptionId, claims = {}, lifetimeSeconds = 15 * 60) {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign(
    {
      ...claims,
      sub: customerId,
      subscription_id: subscriptionId,
      iat: now,
      exp: now + Math.min(lifetimeSeconds, 3600), // the service refuses tokens that live over 1 hour
      jti: randomBytes(16).toString("base64url"), // single use: one token starts one session
    },
    secret,
    { algorithm: "HS256" },
  );
}

/**
 * The event of a webhook delivery, once its Standard Webhooks signature and timestamp check out.
 * Pass the raw request body (a string, before any JSON parsing) and the request's headers.
 * Throws WebhookVerificationError otherwise. Deliveries can repeat: de-duplicate on `webhook-id`.
 */
export function verifySaveflowWebhook(secret, rawBody, headers) {
  return new Webhook(secret).verify(rawBody, headers);
}

// Try it: node saveflow.mjs token CUSTOMER_ID SUBSCRIPTION_ID [--test]   (SAVEFLOW_EMBED_SECRET)
//         node saveflow.mjs verify < body   (SAVEFLOW_WEBHOOK_SECRET, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE)
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, customerId, subscriptionId, flag] = process.argv.slice(2);
  const env = process.env;
  if (command === "token") {
    const claims = flag === "--test" ? { test: true } : {};
    console.log(saveflowToken(env.SAVEFLOW_EMBED_SECRET, customerId, subscriptionId, claims));
  } else if (command === "verify") {
    const headers = {
      "webhook-id": env.WEBHOOK_ID,
      "webhook-timestamp": env.WEBHOOK_TIMESTAMP,
      "webhook-signature": env.WEBHOOK_SIGNATURE,
    };
    try {
      console.log(verifySaveflowWebhook(env.SAVEFLOW_WEBHOOK_SECRET, readFileSync(0, "utf8"), headers).type);
    } catch (error) {
      console.error(`not verified: ${error.message}`);
      process.exit(1);
    }
  } else {
    console.error("usage: node saveflow.mjs token CUSTOMER_ID SUBSCRIPTION_ID [--test] | verify < body");
    process.exit(2);
  }
}
