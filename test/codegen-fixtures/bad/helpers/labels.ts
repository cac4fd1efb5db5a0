import * as z from 'zod';

const configured: Record<string, string> = {};

/** Throws when the module loads: the label set is not configured. */
function required(name: string): string {
  const value = configured[name];
  if (value === undefined) throw new Error(`label set ${name} is not configured`);
  return value;
}

export const label = z.enum([required('default')]);
