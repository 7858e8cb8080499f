/**
 * Preloaded into Buhdi.exe under Wine only (NODE_OPTIONS=--require, set by the Wine test): Wine 8
 * fails a socket's keep-alive setting made while it is still connecting (UV_UNKNOWN), which
 * undici's fetch does on every connection. Deferring it to the connect event works around the
 * emulator; real Windows needs nothing of this, and the product does not carry it.
 */
const net = require("node:net");
const original = net.Socket.prototype.setKeepAlive;
net.Socket.prototype.setKeepAlive = function setKeepAliveAfterConnect(enable, delay) {
  if (this.connecting) {
    this.once("connect", () => original.call(this, enable, delay));
    return this;
  }
  return original.call(this, enable, delay);
};
