// Starts dynalite (its cli.js, with this script's arguments) so that it survives a client that
// gives up on a request while sending it. Node 20 reports such a request as an 'aborted'
// error (ECONNRESET) that dynalite does not handle, and the process exits: every DynamoDB test
// after it then fails with "connection refused". The test suite aborts requests on purpose
// (time budgets, canceled contexts, servers frozen with SIGSTOP), so the error is logged and
// the server goes on; any other uncaught error still ends it.
'use strict'

process.on('uncaughtException', function (err) {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('dynalite: a client aborted a request: ' + err.message)
    return
  }
  console.error(err)
  process.exit(1)
})

require('./node_modules/dynalite/cli.js')
