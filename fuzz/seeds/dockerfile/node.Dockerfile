FROM node:20-bookworm
WORKDIR /usr/src/app
COPY package.json yarn.lock ./
RUN yarn install --frozen-lockfile --production && yarn cache clean
COPY . .
RUN yarn install --frozen-lockfile
RUN npm ci --omit=dev
USER node
CMD ["node", "server.js"]
