# SaveFlow from a Ruby backend: mint the embed token, verify the webhooks we send.
# gem install jwt   (Debian: apt install ruby-jwt). Webhooks are checked with OpenSSL per Standard Webhooks.
require "base64"
require "json"
require "jwt"
require "openssl"
require "securerandom"

module SaveFlow
  class WebhookVerificationError < StandardError; end

  WEBHOOK_TOLERANCE_SECONDS = 5 * 60

  # A fresh embed token for one click on "Cancel subscription" (HS256, signed with SAVEFLOW_EMBED_SECRET).
  # `claims` may add email, first_name, locale, attrs, losses, test and return_url (see the README), e.g.
  # SaveFlow.token(secret, user.id, subscription.stripe_id, email: user.email, locale: "de").
  def self.token(secret, customer_id, subscription_id, lifetime_seconds: 15 * 60, **claims)
    raise ArgumentError, "the embed secret is empty" if secret.to_s.empty?

    now = Time.now.to_i
    payload = claims.transform_keys(&:to_s).merge(
      "sub" => customer_id,
      "subscription_id" => subscription_id,
      "iat" => now,
      "exp" => now + [lifetime_seconds, 3600].min, # the service refuses tokens that live over 1 hour
      "jti" => SecureRandom.urlsafe_base64(16) # single use: one token starts one session
    )
    JWT.encode(payload, secret, "HS256")
  end

  # The event of a webhook delivery (a Hash), once its signature and timestamp check out; raises
  # WebhookVerificationError otherwise. Pass the raw request body, before any JSON parsing.
  # Deliveries can repeat: de-duplicate on webhook-id.
  def self.verify_webhook(secret, raw_body, webhook_id:, webhook_timestamp:, webhook_signature:)
    raise WebhookVerificationError, "missing headers" unless webhook_id && webhook_timestamp && webhook_signature
    unless webhook_timestamp.match?(/\A\d+\z/) && (Time.now.to_i - webhook_timestamp.to_i).abs <= WEBHOOK_TOLERANCE_SECONDS
      raise WebhookVerificationError, "timestamp too old or too new"
    end

    key = Base64.strict_decode64(secret.to_s.delete_prefix("whsec_"))
    raise WebhookVerificationError, "the secret is empty" if key.empty? # an empty key would sign for anyone
    signed = "#{webhook_id}.#{webhook_timestamp}.#{raw_body}"
    expected = Base64.strict_encode64(OpenSSL::HMAC.digest("SHA256", key, signed))
    # The header lists "v1,<signature>" entries, space-separated (several while a secret is rotated).
    matched = webhook_signature.split(" ").any? do |entry|
      version, signature = entry.split(",", 2)
      version == "v1" && signature && OpenSSL.secure_compare(signature, expected)
    end
    raise WebhookVerificationError, "no matching signature" unless matched

    JSON.parse(raw_body)
  end
end

# Try it: ruby saveflow.rb token CUSTOMER_ID SUBSCRIPTION_ID [--test]   (SAVEFLOW_EMBED_SECRET)
#         ruby saveflow.rb verify < body   (SAVEFLOW_WEBHOOK_SECRET, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE)
if $PROGRAM_NAME == __FILE__
  command, customer_id, subscription_id, flag = ARGV
  case command
  when "token"
    claims = flag == "--test" ? { test: true } : {}
    puts SaveFlow.token(ENV.fetch("SAVEFLOW_EMBED_SECRET"), customer_id, subscription_id, **claims)
  when "verify"
    begin
      event = SaveFlow.verify_webhook(
        ENV.fetch("SAVEFLOW_WEBHOOK_SECRET", ""), $stdin.read,
        webhook_id: ENV["WEBHOOK_ID"], webhook_timestamp: ENV["WEBHOOK_TIMESTAMP"], webhook_signature: ENV["WEBHOOK_SIGNATURE"]
      )
      puts event["type"]
    rescue SaveFlow::WebhookVerificationError, ArgumentError => e
      warn "not verified: #{e.message}"
      exit 1
    end
  else
    warn "usage: ruby saveflow.rb token CUSTOMER_ID SUBSCRIPTION_ID [--test] | verify < body"
    exit 2
  end
end
