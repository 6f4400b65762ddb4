// The example firmware: boot (and, for a new image, its supervised trial), then normal work, then updates.
// Its version and its deliberate faults come from the build (mc/config), so one source makes v1, v2 and a bad v3.
import config from "mc/config";
import { read as readDeviceConfig } from "devconfig";
import { FotaClient } from "fota/client";
import { parseDeviceConfig } from "fota/config";
import SHA256 from "crypto/sha256";
import { kind, targetPorts } from "fota-target";
import { appChecks } from "./checks.js";
import { startWork } from "./work.js";

const version: string = config.version ?? "0.0.0";
const raw = readDeviceConfig();
if (!raw)
	throw new Error("no device config: provision one first (xs-fota provision)");
const device = parseDeviceConfig(raw, (data) => new Uint8Array(SHA256.hash(data)));
const client = new FotaClient({
	config: device,
	ports: targetPorts(device),
	firmware: { version, kind },
	selfTest: appChecks(config.fault),
});

trace(`xs-fota example firmware ${version} on ${device.deviceId}\n`);
const boot = await client.boot();
trace(`boot: ${JSON.stringify(boot)}\n`);
startWork(client);
client.start();
