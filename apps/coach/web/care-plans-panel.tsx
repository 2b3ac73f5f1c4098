// Care plans, newest first: the newest open, older ones folded away, each plan's text as real
// paragraphs and lists.
import { formatDateTime, formatDuration } from '@ballast/ui';
import type { Parsed } from '@ballast/contracts';
import type { carePlansAnswer } from '../shared/api.ts';
import { carePlanBlocks } from '../shared/care-plan-text.ts';
import { SafetyNote } from './safety-note.tsx';

type CarePlans = Parsed<typeof carePlansAnswer>;

function PlanBody({ body }: { readonly body: string }) {
  return (
    <div className="plan-body">
      {carePlanBlocks(body).map((block, index) =>
        block.kind === 'paragraph' ? (
          <p key={index}>{block.text}</p>
        ) : block.ordered ? (
          <ol key={index}>
            {block.items.map((item, at) => (
              <li key={at}>{item}</li>
            ))}
          </ol>
        ) : (
          <ul key={index}>
            {block.items.map((item, at) => (
              <li key={at}>{item}</li>
            ))}
          </ul>
        ),
      )}
    </div>
  );
}

export function CarePlansPanel({ plans }: { readonly plans: CarePlans | undefined }) {
  const list = plans?.carePlans ?? [];
  const minimum = plans?.minSeconds ?? 0;
  return (
    <section className="card" aria-labelledby="plans-title">
      <h2 id="plans-title">Care plans</h2>
      {plans !== undefined && list.length === 0 ? (
        <p className="muted">After your first call, your care plan appears here.</p>
      ) : null}
      {minimum > 0 ? (
        <p className="muted" data-testid="care-plan-minimum">
          Calls under {minimum === 60 ? 'a minute' : formatDuration(minimum)} get no care plan.
        </p>
      ) : null}
      {list.map((plan, index) => (
        <details key={plan.sessionId} className="care-plan" data-source={plan.source} open={index === 0}>
          <summary>
            <h3>{plan.title}</h3> <span className="muted">{formatDateTime(plan.createdAt)}</span>
          </summary>
          <PlanBody body={plan.body} />
        </details>
      ))}
      {list.length > 0 ? <SafetyNote /> : null}
    </section>
  );
}
