'use strict';
// node `redis` 5 (RESP2 unless asked; sends CLIENT SETINFO on connect).
const redis = require('redis5');
const { guard } = require('./lib');
const { suite } = require('./redis-suite');

guard('redis5', () => suite('redis5', redis, 2));
