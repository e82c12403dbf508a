/**
 * The models a tracker votes on each track (issue 24 §3): the first one (the tracker's `labels`, whose
 * decision is the event's `class`) and any further ones, each with its own labels, unsure floor and
 * classification cadence, all under the tracker's hysteresis and unsure margin.
 */
import type { VoteRules } from '../classification/label-vote.js';
import type { PairingRules } from '../classification/paired-decision.js';

/** A further model of a tracker (see TrackerOptions.moreModels). */
export interface AttributeModel {
  /** Its attribute's name (`attributes.<name>`). */
  readonly name: string;
  readonly labels: readonly string[];
  /** Three or more labels: its unsure floor. Default 0. */
  readonly unsureFloor?: number;
  /** Its classification interval, ms. Default: the tracker's `classifyIntervalMs`. */
  readonly classifyIntervalMs?: number;
  /** It has a head on the face embedding: how the pair decides a track the head has a value for. Default none. */
  readonly pairing?: PairingRules;
}

/** A model as the tracker votes it now: its name (undefined: the first model, unnamed), rules and cadence. */
export interface VotedModel {
  readonly name: string | undefined;
  readonly rules: VoteRules;
  readonly intervalMs: number;
}

/** The tracker options the voted models are made from. */
export interface TrackedModelOptions {
  readonly labels: readonly string[];
  readonly unsureFloor?: number;
  readonly hysteresis: number;
  readonly unsureMargin: number;
  readonly classifyIntervalMs: number;
  readonly attributeName?: string;
  /** The first model's pairing with a head (see AttributeModel.pairing). */
  readonly pairing?: PairingRules;
  readonly moreModels?: readonly AttributeModel[];
}

/** Every model the tracker votes, the first one first, with the rules as they stand now. */
export function votedModels(o: TrackedModelOptions): VotedModel[] {
  const { hysteresis, unsureMargin } = o;
  const first: Omit<AttributeModel, 'name'> & { name: string | undefined } = {
    name: o.attributeName,
    labels: o.labels,
    unsureFloor: o.unsureFloor,
    pairing: o.pairing,
  };
  return [first, ...(o.moreModels ?? [])].map((m, i) => ({
    name: m.name,
    rules: { labels: m.labels, unsureFloor: m.unsureFloor, hysteresis, unsureMargin, pairing: m.pairing },
    intervalMs: (i > 0 ? (m as AttributeModel).classifyIntervalMs : undefined) ?? o.classifyIntervalMs,
  }));
}
