// The call panel: the live call while one is under way, the start button otherwise.
import { CallStart } from './call-start.tsx';
import { LiveCall } from './live-call.tsx';
import { isOnCall, type CallState } from './use-call.ts';

export function CallPanel({
  call,
  balance,
  owed,
  firstCall,
}: {
  readonly call: CallState;
  readonly balance: number;
  readonly owed: number;
  readonly firstCall: boolean;
}) {
  return isOnCall(call.phase) ? (
    <LiveCall call={call} phase={call.phase} />
  ) : (
    <CallStart call={call} balance={balance} owed={owed} firstCall={firstCall} />
  );
}
