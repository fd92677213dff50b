// SaveFlow from a Go backend: mint the embed token, verify the webhooks we send.
// go get github.com/golang-jwt/jwt/v4   (Debian: apt install golang-github-golang-jwt-jwt-dev).
// Webhooks are checked with crypto/hmac per Standard Webhooks.
package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// WebhookTolerance is how far a delivery's webhook-timestamp may be from now.
const WebhookTolerance = 5 * time.Minute

// ErrWebhookNotVerified is returned for a delivery whose signature or timestamp does not check out.
var ErrWebhookNotVerified = errors.New("webhook not verified")

// SaveflowToken mints a fresh embed token for one click on "Cancel subscription" (HS256, signed with
// SAVEFLOW_EMBED_SECRET). claims may add email, first_name, locale, attrs, losses, test and return_url.
func SaveflowToken(secret, customerID, subscriptionID string, claims map[string]any, lifetime time.Duration) (string, error) {
	if secret == "" {
		return "", errors.New("the embed secret is empty")
	}
	if lifetime > time.Hour {
		lifetime = time.Hour // the service refuses tokens that live over 1 hour
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := time.Now()
	payload := jwt.MapClaims{}
	for name, value := range claims {
		payload[name] = value
	}
	payload["sub"] = customerID
	payload["subscription_id"] = subscriptionID
	payload["iat"] = now.Unix()
	payload["exp"] = now.Add(lifetime).Unix()
	payload["jti"] = base64.RawURLEncoding.EncodeToString(jti) // single use: one token starts one session
	return jwt.NewWithClaims(jwt.SigningMethodHS256, payload).SignedString([]byte(secret))
}

// Event is what every webhook we send carries; Data depends on Type (see the API docs at /schema).
type Event struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// VerifyWebhook returns the event of a delivery once its signature and timestamp check out. Pass the raw
// request body, before any JSON decoding. Deliveries can repeat: de-duplicate on webhook-id.
func VerifyWebhook(secret string, rawBody []byte, id, timestamp, signatures string) (*Event, error) {
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if id == "" || err != nil {
		return nil, fmt.Errorf("%w: missing headers", ErrWebhookNotVerified)
	}
	if age := time.Since(time.Unix(seconds, 0)); age > WebhookTolerance || age < -WebhookTolerance {
		return nil, fmt.Errorf("%w: timestamp too old or too new", ErrWebhookNotVerified)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 { // an empty key would sign for anyone
		return nil, fmt.Errorf("%w: the secret is empty or not a whsec_ secret", ErrWebhookNotVerified)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, timestamp, rawBody)
	expected := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	// The header lists "v1,<signature>" entries, space-separated (several while a secret is rotated).
	for _, entry := range strings.Split(signatures, " ") {
		version, signature, _ := strings.Cut(entry, ",")
		if version == "v1" && hmac.Equal([]byte(signature), []byte(expected)) {
			var event Event
			if err := json.Unmarshal(rawBody, &event); err != nil {
				return nil, err
			}
			return &event, nil
		}
	}
	return nil, fmt.Errorf("%w: no matching signature", ErrWebhookNotVerified)
}

// Try it: go run . token CUSTOMER_ID SUBSCRIPTION_ID [--test]   (SAVEFLOW_EMBED_SECRET)
//
//	go run . verify < body   (SAVEFLOW_WEBHOOK_SECRET, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE)
func main() {
	args := os.Args[1:]
	switch {
	case len(args) >= 3 && args[0] == "token":
		claims := map[string]any{}
		if len(args) > 3 && args[3] == "--test" {
			claims["test"] = true
		}
		token, err := SaveflowToken(os.Getenv("SAVEFLOW_EMBED_SECRET"), args[1], args[2], claims, 15*time.Minute)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(token)
	case len(args) == 1 && args[0] == "verify":
		body, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		event, err := VerifyWebhook(os.Getenv("SAVEFLOW_WEBHOOK_SECRET"), body,
			os.Getenv("WEBHOOK_ID"), os.Getenv("WEBHOOK_TIMESTAMP"), os.Getenv("WEBHOOK_SIGNATURE"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "not verified:", err)
			os.Exit(1)
		}
		fmt.Println(event.Type)
	default:
		fmt.Fprintln(os.Stderr, "usage: go run . token CUSTOMER_ID SUBSCRIPTION_ID [--test] | verify < body")
		os.Exit(2)
	}
}
