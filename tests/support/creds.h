/* creds: the account, Auth Token and API key the reading and products scenarios call with, as
 * JSON members and as the basic-auth header Twilio then gets, and the success envelope. */
#ifndef CREDS_H
#define CREDS_H

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MSG "SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CALL "CAcccccccccccccccccccccccccccccccc"
#define KEY "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define TOKEN "reading-token-5a8e"
#define CREDS "\"accountSid\":\"" SID "\",\"accountToken\":\"" TOKEN "\""
#define KEY_CREDS                                                                                  \
    "\"accountSid\":\"" SID "\",\"apiKeySid\":\"" KEY                                              \
    "\",\"apiKeySecret\":\"reading-key-secret-9c1d\""
#define BASIC                                                                                      \
    "Basic "                                                                                       \
    "QUNhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTpyZWFkaW5nLXRva2VuLTVhOGU="
#define KEY_BASIC                                                                                  \
    "Basic "                                                                                       \
    "U0tiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYjpyZWFkaW5nLWtleS1zZWNyZXQtOW"                   \
    "MxZA=="
#define ACCOUNT "/2010-04-01/Accounts/" SID
#define OK(resource) "{\"callback\":\"success\",\"contextWrites\":{\"to\":" resource "}}"

#endif
