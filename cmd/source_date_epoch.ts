// SOURCE_DATE_EPOCH, read for packimage, liteimg and imgexport: one parser, one message.

import { UsageError } from "../core/errors.ts";

/**
 * SOURCE_DATE_EPOCH (reproducible-builds.org) as whole seconds since 1970, or undefined when it is
 * unset or empty. Read only in cmd/ so core stays free of ambient state; core takes the number.
 *
 * @example
 * ```ts
 * sourceDateEpoch({ SOURCE_DATE_EPOCH: "1600000000" }); // 1600000000
 * ```
 */
export function sourceDateEpoch(env: Readonly<Record<string, string>>): number | undefined {
  const value = env.SOURCE_DATE_EPOCH;
  if (value === undefined || value === "") return undefined;
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`SOURCE_DATE_EPOCH must be whole seconds since 1970, not '${value}'.`);
  }
  return Number(value);
}
