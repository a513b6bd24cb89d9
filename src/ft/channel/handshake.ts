// The logging channel's handshake: before any log entry flows, each side challenges the other with a
// nonce and checks its answer, an HMAC over the session secret, both nonces, the answerer's side and
// role. A peer without the secret, or one replaying or reflecting an answer, is refused.
// docs/protocol.md describes the exchange.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { HELLO_TOKEN_BYTES, ROLE_CODES, type Frame, type HelloMessage, type Role } from '../log';

/** Largest payload accepted before the peer is authenticated: a hello is 34 bytes. */
export const HANDSHAKE_MAX_PAYLOAD = 256;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const HELLO_MAC_LABEL = Buffer.from('lockstep-ft-hello-v1', 'ascii');

/** Which end of the TCP connection a side is; part of the MAC so a response cannot be reflected. */
export type ChannelSide = 'listen' | 'connect';
const SIDE_CODES: { readonly [K in ChannelSide]: number } = { listen: 1, connect: 2 };

/** Raised when the peer fails the handshake (or this side is rejected by it). */
export class ChannelAuthError extends Error {
  constructor(readonly reason: string) {
    super(`channel handshake failed: ${reason}`);
    this.name = 'ChannelAuthError';
  }
}

/**
 * The proof a prover sends in its hello response:
 * HMAC-SHA256(secret, label | prover side | prover role | verifier nonce | prover nonce).
 */
export function helloMac(
  secret: string | Uint8Array,
  proverSide: ChannelSide,
  proverRole: Role,
  verifierNonce: Uint8Array,
  proverNonce: Uint8Array,
): Uint8Array {
  return createHmac('sha256', secret)
    .update(HELLO_MAC_LABEL)
    .update(Uint8Array.of(SIDE_CODES[proverSide], ROLE_CODES[proverRole]))
    .update(verifierNonce)
    .update(proverNonce)
    .digest();
}

function otherSide(side: ChannelSide): ChannelSide {
  return side === 'listen' ? 'connect' : 'listen';
}

export interface HandshakeOptions {
  /** Per-session shared secret; both sides must hold the same one. */
  secret: string | Uint8Array;
  /** This side's role, announced (and authenticated) in the handshake. */
  role: Role;
  /** Reject a peer that announces another role. */
  expectPeerRole?: Role;
}

/**
 * One side's part of the handshake, apart from the socket: challenge() is the hello it opens with,
 * receive() takes each frame the peer sends until the peer is authenticated. Every failure is a
 * ChannelAuthError.
 */
export class Handshake {
  private readonly nonce = randomBytes(HELLO_TOKEN_BYTES);
  private peerNonce: Uint8Array | undefined;
  private peer: Role | undefined;

  constructor(
    private readonly side: ChannelSide,
    private readonly options: HandshakeOptions,
  ) {}

  /** The peer's role, known once its challenge has arrived. */
  get peerRole(): Role | undefined {
    return this.peer;
  }

  /** The hello this side opens with. */
  challenge(): HelloMessage {
    return { kind: 'hello', step: 'challenge', role: this.options.role, nonce: this.nonce };
  }

  /** A frame from the peer: the hello to answer it with, or 'authenticated' when the peer has proved itself. */
  receive(frame: Frame): HelloMessage | 'authenticated' {
    if (frame.kind === 'bye') throw new ChannelAuthError(`peer said bye: ${frame.reason}`);
    if (frame.kind !== 'hello') throw new ChannelAuthError(`expected hello, got ${frame.kind}`);
    if (frame.step === 'challenge') return this.answerChallenge(frame);
    this.checkResponse(frame);
    return 'authenticated';
  }

  private answerChallenge(hello: HelloMessage & { step: 'challenge' }): HelloMessage {
    if (this.peerNonce) throw new ChannelAuthError('second challenge');
    const expected = this.options.expectPeerRole;
    if (expected && hello.role !== expected) throw new ChannelAuthError(`peer is ${hello.role}, expected ${expected}`);
    this.peer = hello.role;
    this.peerNonce = hello.nonce;
    const mac = helloMac(this.options.secret, this.side, this.options.role, hello.nonce, this.nonce);
    return { kind: 'hello', step: 'response', role: this.options.role, mac };
  }

  private checkResponse(hello: HelloMessage & { step: 'response' }): void {
    if (!this.peerNonce) throw new ChannelAuthError('response before challenge');
    if (hello.role !== this.peer) throw new ChannelAuthError('role changed during handshake');
    const expected = helloMac(this.options.secret, otherSide(this.side), hello.role, this.nonce, this.peerNonce);
    if (!timingSafeEqual(expected, hello.mac)) throw new ChannelAuthError('authentication failed');
  }
}
