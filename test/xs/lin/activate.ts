// Run by test/node/lin-natives.test.ts: activates ota_1 (a lin image put there by the test), then restarts.
import Partition from "partition";
import System from "system";

Partition.activate(Partition.next());
trace("activated\n");
System.restart();
