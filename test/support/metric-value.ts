/** Reading one series of a prom-client metric, as the hand-written registry's sync `get(labels)` once did. */
interface Readable {
  get(): Promise<{ values: ReadonlyArray<{ labels: Readonly<Record<string, string | number | undefined>>; value: number }> }>;
}

/** The value of `metric`'s series with exactly these `labels` (0 when it was never touched). */
export async function metricValue(metric: Readable, labels: Readonly<Record<string, string>>): Promise<number> {
  const { values } = await metric.get();
  const keys = Object.keys(labels);
  const match = values.find((v) => keys.every((k) => String(v.labels[k]) === labels[k]) && Object.keys(v.labels).length === keys.length);
  return match?.value ?? 0;
}
