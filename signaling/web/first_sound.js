// The meeting page's ear for its own microphone's first sound (app.js, quietUntilSound): an
// AudioWorklet, so that it hears on the audio thread, at once, even while the page is in a
// background tab (where the page's timers run once a second). It says 'sound' once, when a
// 128-sample block first peaks at the threshold it was given, and then stops listening.
'use strict';

class FirstSound extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.threshold = (options.processorOptions && options.processorOptions.threshold) || 0.01;
  }

  process(inputs) {
    for (const channel of inputs[0] || []) {
      for (let i = 0; i < channel.length; i++) {
        if (Math.abs(channel[i]) >= this.threshold) {
          this.port.postMessage('sound');
          return false; // heard: nothing more to do
        }
      }
    }
    return true;
  }
}

registerProcessor('dc-first-sound', FirstSound);
