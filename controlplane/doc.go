// Package controlplane is DFLB's control plane. It contains the
// receiver for the notifications that DFM, the agent on each instance,
// posts when components go down or come up and when load crosses a
// threshold.
package controlplane
