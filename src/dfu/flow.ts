// The update loop's phases (src/dfu/engine.ts) and which phase may follow which, as a table like
// MCUboot's swap tables. Besides these rows, any phase may fail (Recheck, before dropping an image)
// or finish (Done), Done ends in Idle and a cycle starts at Status. The engine is held to the table
// by the tests, not by code on the board: test/helpers/device.ts refuses every other move the built
// bundle makes, and test/engine.test.ts checks that every row is used.

/** The phases, the hot ones first (the engine's switch tests them in order). */
export const enum P {
  Copy, Chunk, Written, Status, StatusRsp, Reported, Checked, Gates, Resumed, Fresh, Probe,
  ProbeRsp, Enter, Entering, EnterRsp, Complete, Verify, Staged, Stopped,
  Recheck, Rejected, Finish, Done, Idle
}

/** The phases each phase may move to, indexed by phase (see P). */
export var FLOW: P[][] = [
  /* Copy */ [P.Copy, P.Chunk, P.Complete],
  /* Chunk */ [P.Copy, P.Enter, P.Written],
  /* Written */ [P.Copy],
  /* Status */ [P.StatusRsp],
  /* StatusRsp */ [P.Reported, P.Checked],
  /* Reported */ [P.Checked],
  /* Checked */ [P.Recheck, P.Gates],
  /* Gates */ [P.Resumed, P.Fresh, P.Stopped, P.Finish],
  /* Resumed */ [P.Probe, P.Fresh],
  /* Fresh */ [P.Probe],
  /* Probe */ [P.ProbeRsp],
  /* ProbeRsp */ [P.Copy, P.Enter, P.Probe],
  /* Enter */ [P.Entering, P.Probe],
  /* Entering */ [P.EnterRsp],
  /* EnterRsp */ [P.Probe],
  /* Complete */ [P.Verify],
  /* Verify */ [P.Staged, P.Fresh],
  /* Staged */ [P.Stopped],
  /* Stopped */ [],
  /* Recheck */ [P.Gates, P.Rejected],
  /* Rejected */ [P.Finish],
  /* Finish */ [],
  /* Done */ [P.Idle],
  /* Idle */ [P.Status]
];
