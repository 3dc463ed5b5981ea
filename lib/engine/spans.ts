/**
 * The attributes Junction's spans share, after the OpenTelemetry semantic conventions for messaging
 * (`messaging.*`) and CloudEvents (`cloudevents.*`); Junction's own under `junction.*` (docs/tracing.md).
 */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import type { SpanAttributes, Tracer } from '../ports.ts';

/** `messaging.system` of every span. */
export const MESSAGING_SYSTEM = 'junction';

/** What every span about one event says of it. */
export function eventSpanAttributes(event: CloudEvent): SpanAttributes {
  return {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.message.id': event.id,
    'cloudevents.event_id': event.id,
    'cloudevents.event_source': event.source,
    'cloudevents.event_type': event.type,
    'cloudevents.event_spec_version': event.specversion,
    'cloudevents.event_subject': typeof event.subject === 'string' ? event.subject : undefined,
  };
}

/** The tracer with `attributes` on every span it starts (a span's own attributes win). */
export function scopedTracer(tracer: Tracer, attributes: SpanAttributes): Tracer {
  return {
    enabled: tracer.enabled,
    startSpan: (name, options) =>
      tracer.startSpan(name, { ...options, attributes: { ...attributes, ...options.attributes } }),
    flush: () => tracer.flush(),
    // The tracer's owner closes it, once, after every bus that shares it.
    close: async () => {},
  };
}
