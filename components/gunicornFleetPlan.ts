/**
 * Pure parts of a fleet's rolling update: which hosts change together, and the commands that
 * take a host out of a load balancer and put it back.
 */

/**
 * Shell commands, run where `pulumi up` runs (`@pulumi/command`'s local.Command), that drain a
 * host before it changes and register it again after. Each gets TARGET_INDEX (the host's
 * position), TARGET_ID (instance id, or the host's address for existing hosts) and TARGET_PORT
 * in its environment, and TARGET_GROUP_ARN and AWS_REGION with the ALB.
 */
export interface BalancerCommands {
  /** Take the host out of rotation and wait until its in-flight requests are done. */
  drain: string;
  /** Put the host back and wait until the balancer finds it healthy. */
  register: string;
  /** Take the host out for good (destroy). */
  deregister: string;
}

/** The batch of each host: hosts 0..k-1 first, then k..2k-1, ... (k = maxUnavailable). */
export function rollingBatches(size: number, maxUnavailable: number): number[] {
  return Array.from({ length: size }, (_, i) => Math.floor(i / maxUnavailable));
}

/**
 * The ALB's commands, with the AWS CLI (it must be installed and have credentials where
 * `pulumi up` runs). `wait target-deregistered` returns once the ALB has stopped sending the
 * host new requests and its deregistration delay (the in-flight requests) is over;
 * `wait target-in-service` once its health checks pass.
 */
export function albCommands(): BalancerCommands {
  const target =
    '--target-group-arn "$TARGET_GROUP_ARN" --targets "Id=$TARGET_ID,Port=$TARGET_PORT"';
  return {
    drain: `aws elbv2 deregister-targets ${target} && aws elbv2 wait target-deregistered ${target}`,
    register: `aws elbv2 register-targets ${target} && aws elbv2 wait target-in-service ${target}`,
    deregister: `aws elbv2 deregister-targets ${target}`,
  };
}
