// A fleet: three Ubuntu 24.04 (systemd) VMs in two subnets behind an Application Load
// Balancer, each running the same Gunicorn service, every change rolled out one host at a
// time (drain, change, health gate, register). Run it as a stack program (`main:
// examples/fleet/index.ts` in a Pulumi.yaml); drain and register need the AWS CLI.
import * as pulumi from "@pulumi/pulumi";
import { GunicornFleet } from "../../components";

const config = new pulumi.Config();

const fleet = new GunicornFleet("web", {
  service: {
    init: "systemd",
    job: "hello",
    user: "hello",
    group: "hello",
    virtualenv: "/srv/hello/venv",
    logFile: "/var/log/hello/gunicorn.log",
    wsgiApp: "hello.wsgi:application",
    bind: "0.0.0.0:8000",
    healthCheckPath: "/health",
    appSource: "examples/hello-django",
    prepareHost: true,
    pythonEnv: { requirements: "Django>=4.2,<5\n" },
  },
  vms: {
    count: config.getNumber("count") ?? 3,
    subnetIds: config.requireObject<string[]>("subnetIds"),
    vm: {
      publicKey: config.require("publicKey"),
      privateKey: config.requireSecret("sshPrivateKey"),
      sshCidr: config.require("sshCidr"),
    },
  },
  maxUnavailable: 1,
});

export const url = fleet.url;
export const hosts = fleet.services.map((s) => s.publicAddress);
