/**
 * Feature toggles, typed in one place: a name, what it switches, and its value until an operator
 * changes it. Stored in SQL (db/features.ts), flipped on the admin page, read through a short cache.
 */
export const FEATURES = {
  NEW_VERIFICATION: {
    description:
      'Extra customer verification before payment: more than 5 orders from one customer within a minute are rejected.',
    defaultEnabled: false,
  },
} as const;

export type FeatureName = keyof typeof FEATURES;

export function isFeatureName(name: string): name is FeatureName {
  return Object.hasOwn(FEATURES, name);
}

export interface FeatureToggle {
  name: FeatureName;
  description: string;
  enabled: boolean;
  /** Who last changed it; null while it still has its default. */
  updatedBy: string | null;
  updatedAt: string | null;
}

/** One audit row: every change is kept, who and when. */
export interface FeatureToggleChange {
  name: FeatureName;
  enabled: boolean;
  changedBy: string;
  changedAt: string;
}
