/**
 * Reads the files the mqtt section names (CA, client certificate and key, password file) once, at
 * start, so a missing or unreadable file stops tinyqa with an error naming the config key — not a
 * TLS failure on every reconnect. The contents go to the publisher; the paths stay in the config.
 */

import { readFileSync } from 'node:fs';
import { ErrorCode, TinyqaError, errorMessage } from '../core/errors.js';
import type { TinyqaConfig } from './schema.js';

export interface MqttCredentials {
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
}

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;

export function loadMqttCredentials(m: Readonly<TinyqaConfig['mqtt']>, read: (path: string) => Buffer = (p) => readFileSync(p)): MqttCredentials {
  const load = (key: 'ca' | 'cert' | 'key' | 'password_file', hint: string): Buffer | undefined => {
    const path = m[key];
    if (path === '') return undefined;
    let data: Buffer;
    try {
      data = read(path);
    } catch (e) {
      throw new TinyqaError(ErrorCode.ConfigUnreadable, `mqtt.${key}: cannot read ${path}: ${errorMessage(e)}`, { hint });
    }
    if (key !== 'password_file' && !PEM.test(data.toString('latin1'))) {
      throw new TinyqaError(ErrorCode.ConfigUnreadable, `mqtt.${key}: ${path} is not a PEM file (no "-----BEGIN …-----" line)`, { hint: `${hint}; convert DER with \`openssl x509 -inform der -in FILE -out FILE.pem\`` });
    }
    return data;
  };
  const ca = load('ca', 'point mqtt.ca at the CA certificate (PEM) that signed the broker certificate, or set it to "" to trust the system CAs');
  const cert = load('cert', 'point mqtt.cert at the client certificate (PEM), or set mqtt.cert and mqtt.key to "" if the broker does not require one');
  const key = load('key', 'point mqtt.key at the private key (PEM) of mqtt.cert; it must be readable by the user tinyqa runs as');
  const pw = load('password_file', 'point mqtt.password_file at a file holding the broker password, readable by the user tinyqa runs as');
  const out: MqttCredentials = {};
  if (m.username !== '') out.username = m.username;
  // A password file written by `echo` ends in a newline that is not part of the password.
  if (pw !== undefined) out.password = pw.toString('utf8').replace(/\r?\n$/, '');
  else if (m.password !== '') out.password = m.password;
  if (/^(mqtts|ssl|wss):/.test(m.url) || ca || cert) {
    out.tls = { rejectUnauthorized: m.reject_unauthorized };
    if (ca) out.tls.ca = ca;
    if (cert) out.tls.cert = cert;
    if (key) out.tls.key = key;
  }
  return out;
}
