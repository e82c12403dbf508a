/**
 * Ed25519 signatures over a package's `manifest.json` bytes (node:crypto, no extra dependency).
 * `manifest.sig` is JSON: `{ "algorithm": "ed25519", "key_id": "<16 hex>", "signature": "<base64>" }`;
 * the key id (sha256 of the public key's DER, shortened) only makes "signed by the wrong key"
 * errors readable — trust comes from verifying against the board's configured public keys.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { FaceedgeError } from '../errors.js';
import { sha256Hex } from './model-package.js';

const signatureSchema = z.object({
  algorithm: z.literal('ed25519'),
  key_id: z.string().regex(/^[0-9a-f]{16}$/),
  signature: z.string().min(1),
});
export type ManifestSignature = z.infer<typeof signatureSchema>;

export function keyId(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** A new Ed25519 key pair as PEM (private: PKCS#8, public: SPKI). */
export function generateSigningKeyPair(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
  };
}

function ed25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new FaceedgeError('USAGE', `${what} is a ${key.asymmetricKeyType ?? 'symmetric'} key, not ed25519`, {
      hint: 'create one with: faceedge model keygen',
    });
  }
  return key;
}

export function loadPrivateKey(pem: string | Buffer, what = 'private key'): KeyObject {
  try {
    return ed25519(createPrivateKey(pem), what);
  } catch (cause) {
    if (cause instanceof FaceedgeError) throw cause;
    throw new FaceedgeError('USAGE', `${what} is not a PEM private key: ${(cause as Error).message}`, { cause });
  }
}

export function loadPublicKey(pem: string | Buffer, what = 'public key'): KeyObject {
  try {
    return ed25519(createPublicKey(pem), what);
  } catch (cause) {
    if (cause instanceof FaceedgeError) throw cause;
    throw new FaceedgeError('USAGE', `${what} is not a PEM public key: ${(cause as Error).message}`, { cause });
  }
}

/** Reads public key PEM files (typed USAGE error naming the file). */
export async function readPublicKeys(paths: readonly string[]): Promise<KeyObject[]> {
  return Promise.all(
    paths.map(async (path) => {
      let pem: Buffer;
      try {
        pem = await readFile(path);
      } catch (cause) {
        throw new FaceedgeError('USAGE', `cannot read public key ${path}: ${(cause as Error).message}`, {
          hint: 'copy the .pub.pem written by `faceedge model keygen` to the board (default /etc/faceedge/model-signing.pub.pem)',
          cause,
        });
      }
      return loadPublicKey(pem, path);
    }),
  );
}

/** Signs manifest bytes; returns the `manifest.sig` content. */
export function signManifest(manifestBytes: Buffer, privateKey: KeyObject): string {
  const signature: ManifestSignature = {
    algorithm: 'ed25519',
    key_id: keyId(createPublicKey(privateKey)),
    signature: sign(null, manifestBytes, privateKey).toString('base64'),
  };
  return JSON.stringify(signature, null, 2) + '\n';
}

/**
 * Verifies `manifest.sig` content against the trusted keys; returns the key id that signed it.
 * Throws MODEL_SIGNATURE_INVALID when it is unreadable or no trusted key verifies it.
 */
export function verifyManifestSignature(
  manifestBytes: Buffer,
  signatureText: string | Buffer | null,
  trusted: readonly KeyObject[],
): string {
  if (signatureText === null) {
    throw new FaceedgeError('MODEL_SIGNATURE_INVALID', 'the package has no manifest.sig', {
      hint: 'sign it on the workstation: faceedge model sign <dir> --key <private.pem>',
    });
  }
  let parsed: ManifestSignature;
  try {
    parsed = signatureSchema.parse(JSON.parse(signatureText.toString()));
  } catch (cause) {
    throw new FaceedgeError(
      'MODEL_SIGNATURE_INVALID',
      `manifest.sig is not an ed25519 signature record: ${(cause as Error).message}`,
      { cause },
    );
  }
  const signature = Buffer.from(parsed.signature, 'base64');
  for (const key of trusted) {
    if (signature.length === 64 && verify(null, manifestBytes, key, signature)) return keyId(key);
  }
  const known = trusted.map(keyId);
  // Two different problems: the signer is trusted but the bytes changed, or the signer is not trusted.
  if (known.includes(parsed.key_id)) {
    throw new FaceedgeError(
      'MODEL_SIGNATURE_INVALID',
      `manifest.json was changed after it was signed: its signature by the trusted key ${parsed.key_id} does not match its bytes`,
      {
        hint: 'sign the package again after the last change (faceedge model sign <dir> --key <private.pem>), or find who altered it',
      },
    );
  }
  throw new FaceedgeError(
    'MODEL_SIGNATURE_INVALID',
    `the package is signed by key ${parsed.key_id}, which this board does not trust (trusted: ${known.join(', ') || 'none'})`,
    {
      hint: 'sign it with the key whose .pub.pem is models.public_key on the board, or install that key',
    },
  );
}
