<?php
// SaveFlow from a PHP backend: mint the embed token, verify the webhooks we send.
// Plain PHP (hash_hmac): an HS256 JWT and a Standard Webhooks signature are a few lines each.

declare(strict_types=1);

final class SaveFlowWebhookError extends RuntimeException {}

function saveflow_base64url(string $bytes): string
{
    return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
}

/**
 * A fresh embed token for one click on "Cancel subscription" (HS256, signed with SAVEFLOW_EMBED_SECRET).
 * $claims may add email, first_name, locale, attrs, losses, test and return_url (see the README).
 */
function saveflow_token(string $secret, string $customerId, string $subscriptionId, array $claims = [], int $lifetimeSeconds = 900): string
{
    if ($secret === '') {
        throw new InvalidArgumentException('the embed secret is empty');
    }
    $now = time();
    $payload = array_merge($claims, [
        'sub' => $customerId,
        'subscription_id' => $subscriptionId,
        'iat' => $now,
        'exp' => $now + min($lifetimeSeconds, 3600), // the service refuses tokens that live over 1 hour
        'jti' => saveflow_base64url(random_bytes(16)), // single use: one token starts one session
    ]);
    $json = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;
    $signing = saveflow_base64url(json_encode(['alg' => 'HS256', 'typ' => 'JWT'], $json))
        . '.' . saveflow_base64url(json_encode($payload, $json));
    return $signing . '.' . saveflow_base64url(hash_hmac('sha256', $signing, $secret, true));
}

/**
 * The event of a webhook delivery, once its Standard Webhooks signature and timestamp check out; throws
 * SaveFlowWebhookError otherwise. Pass the raw body (file_get_contents('php://input')), before json_decode.
 * Deliveries can repeat: de-duplicate on webhook-id.
 */
function saveflow_verify_webhook(string $secret, string $rawBody, ?string $id, ?string $timestamp, ?string $signatures, int $toleranceSeconds = 300): array
{
    if ($id === null || $timestamp === null || $signatures === null) {
        throw new SaveFlowWebhookError('missing headers');
    }
    if (!ctype_digit($timestamp) || abs(time() - (int) $timestamp) > $toleranceSeconds) {
        throw new SaveFlowWebhookError('timestamp too old or too new');
    }
    $key = base64_decode(preg_replace('/^whsec_/', '', $secret), true);
    if ($key === false || $key === '') { // an empty key would sign for anyone
        throw new SaveFlowWebhookError('the secret is empty or not a whsec_ secret');
    }
    $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$rawBody", $key, true));
    // The header lists "v1,<signature>" entries, space-separated (several while a secret is rotated).
    foreach (explode(' ', $signatures) as $entry) {
        [$version, $signature] = array_pad(explode(',', $entry, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $signature)) {
            return json_decode($rawBody, true, 512, JSON_THROW_ON_ERROR);
        }
    }
    throw new SaveFlowWebhookError('no matching signature');
}

// Try it: php saveflow.php token CUSTOMER_ID SUBSCRIPTION_ID [--test]   (SAVEFLOW_EMBED_SECRET)
//         php saveflow.php verify < body   (SAVEFLOW_WEBHOOK_SECRET, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE)
if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    $command = $argv[1] ?? '';
    if ($command === 'token' && count($argv) >= 4) {
        $claims = ($argv[4] ?? '') === '--test' ? ['test' => true] : [];
        echo saveflow_token((string) getenv('SAVEFLOW_EMBED_SECRET'), $argv[2], $argv[3], $claims), "\n";
    } elseif ($command === 'verify') {
        $header = fn (string $name): ?string => getenv($name) === false ? null : getenv($name);
        try {
            $event = saveflow_verify_webhook((string) getenv('SAVEFLOW_WEBHOOK_SECRET'), stream_get_contents(STDIN),
                $header('WEBHOOK_ID'), $header('WEBHOOK_TIMESTAMP'), $header('WEBHOOK_SIGNATURE'));
            echo $event['type'], "\n";
        } catch (SaveFlowWebhookError | JsonException $e) {
            fwrite(STDERR, 'not verified: ' . $e->getMessage() . "\n");
            exit(1);
        }
    } else {
        fwrite(STDERR, "usage: php saveflow.php token CUSTOMER_ID SUBSCRIPTION_ID [--test] | verify < body\n");
        exit(2);
    }
}
