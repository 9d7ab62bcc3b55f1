# Reference values for metareview's two-group GLMMs for odds ratios (metareview.glmm.glmm_or):
# metafor's rma.glmm(measure = "OR", model = ...) for the models metareview offers.
#
#   CM.AL  conditional model, approximate (binomial) likelihood, through lme4:
#          ai ~ Bin(ai + ci, expit(log(n1i/n2i) + theta_i));
#   UM.FS  unconditional model with fixed study effects, through lme4 (rma.glmm's and meta's default):
#          logit p_ij = alpha_i + group1_j * beta + group12_j * b_i, b_i ~ N(0, tau^2);
#   CM.EL  conditional model, exact likelihood (non-central hypergeometric), metafor's own code:
#          the random effect integrated with integrate(), maximised with optim, Hessian by numDeriv.
#
# Run from the repository root:
#     Rscript tests/r/make_reference_glmm_or.R
#
# Writes tests/fixtures/glmm/or_cmal.json, or_umfs.json and or_cmel.json.  lme4 fits are recorded
# with a tight bobyqa tolerance (control = list(glmerCtrl = ...)), the maximum of lme4's own
# approximation, as in make_reference_glmm.R; CM.EL with the tight controls below and the
# non-central hypergeometric density of metafor's own dnoncenhypergeom (exact, needs no BiasedUrn);
# the common-effect models of CM.AL and UM.FS are glm's and need no control.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(lme4)
  library(jsonlite)
})

OUT_DIR <- file.path("tests", "fixtures", "glmm")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)
TIGHT <- list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))
TIGHT_TEXT <- 'list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))'
# UM.FS has a coefficient per study: bobyqa with a small first step gets closest to the maximum
FS_TIGHT <- list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.02, rhoend = 1e-12, maxfun = 1e6)))
FS_TIGHT_TEXT <- 'list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.02, rhoend = 1e-12, maxfun = 1e6)))'
# CM.EL: metafor's own likelihood.  BFGS with a tight relative tolerance (nlminb stops early on some
# of these tables), the integrals to 1e-10, and numDeriv's Hessian from steps of 1% of each
# parameter (its default Richardson steps, down to 1e-4 * 2^-15 of a parameter near 0, lose the
# digits of a log odds ratio near 0 to rounding)
EXACT <- list(optimizer = "optim", optmethod = "BFGS", optCtrl = list(reltol = 1e-14, maxit = 1e4),
              dnchgcalc = "dnoncenhypergeom", intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L),
              hessianCtrl = list(d = 0.01, r = 6))
EXACT_TEXT <- paste0('list(optimizer = "optim", optmethod = "BFGS", optCtrl = list(reltol = 1e-14, maxit = 1e4), ',
                     'dnchgcalc = "dnoncenhypergeom", intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L), ',
                     'hessianCtrl = list(d = 0.01, r = 6))')
num <- function(x) as.numeric(x)

TABLES <- list(
  bcg = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg,
                           source = "metadat::dat.bcg")),
  nielweise2007 = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                               source = "metadat::dat.nielweise2007 (zero cells, one double-zero table)")),
  li2007 = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                 source = "metadat::dat.li2007 (rare events, zero cells)"))
)

record <- function(fit, call) {
  pr <- predict(fit)
  list(call = call, beta = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
       zval = num(fit$zval), pval = num(fit$pval), tau2 = num(fit$tau2),
       QE_Wld = num(fit$QE.Wld), QEp_Wld = num(fit$QEp.Wld), QE_LRT = num(fit$QE.LRT),
       QEp_LRT = num(fit$QEp.LRT), QE_df = num(fit$QE.df), I2 = num(fit$I2), H2 = num(fit$H2),
       logLik = num(logLik(fit)), pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub), k = fit$k)
}

# lme4 takes the standard error of UM.FS from a Hessian by central differences with step 1e-4
# (lme4:::deriv12) of a deviance whose conditional modes are solved to tolPwrss = 1e-7, which
# leaves errors of a few 1e-5 in it.  se_devfun is the same quantity from lme4's own deviance
# function at rma.glmm's solution, differentiated by numDeriv with Richardson extrapolation from
# steps of 0.01 (where that noise no longer matters).
se_devfun <- function(d, fit) {
  rd <- rma.glmm(measure = "OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, model = "UM.FS", retdat = TRUE)
  dat.grp <- rd$dat.grp; X.fit <- rd$X.fit; study <- rd$study; group <- rd$group
  dev <- glmer(dat.grp ~ -1 + X.fit + study + (group - 1 | study), family = binomial, nAGQ = 7, devFunOnly = TRUE)
  refit <- rma.glmm(measure = "OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, model = "UM.FS",
                    control = FS_TIGHT, retfit = TRUE)$res.ML
  h <- numDeriv::hessian(dev, c(getME(refit, "theta"), fixef(refit)), method.args = list(d = 0.01, r = 4))
  sqrt(2 * solve(h)[2, 2])
}

MODELS <- list(
  CM.AL = list(file = "or_cmal.json", ce = list(), ml = TIGHT, ml_text = TIGHT_TEXT),
  UM.FS = list(file = "or_umfs.json", ce = list(), ml = FS_TIGHT, ml_text = FS_TIGHT_TEXT),
  # dat.li2007 is left out of CM.EL: its largest trial (ISIS-4, 4319 events) takes R hours
  CM.EL = list(file = "or_cmel.json", ce = EXACT, ce_text = EXACT_TEXT, ml = EXACT, ml_text = EXACT_TEXT,
               tables = c("bcg", "nielweise2007"))
)

META <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
             metadat_version = as.character(packageVersion("metadat")),
             lme4_version = as.character(packageVersion("lme4")),
             jsonlite_version = as.character(packageVersion("jsonlite")))

for (model in names(MODELS)) {
  m <- MODELS[[model]]
  out <- list()
  for (name in if (is.null(m$tables)) names(TABLES) else m$tables) {
    d <- TABLES[[name]]
    args <- list(measure = "OR", model = model, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i)
    ce_args <- c(args, list(method = "FE"))
    if (length(m$ce)) ce_args$control <- m$ce
    ce <- suppressWarnings(do.call(rma.glmm, ce_args))
    ml <- suppressWarnings(do.call(rma.glmm, c(args, list(method = "ML", control = m$ml))))
    ce_call <- sprintf('rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "%s", method = "FE"%s)', model,
                       if (length(m$ce)) paste0(", control = ", m$ce_text) else "")
    ml_call <- sprintf('rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "%s", control = %s)', model, m$ml_text)
    out[[name]] <- list(source = d$source, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i,
                        CE = record(ce, ce_call), ML = record(ml, ml_call))
    if (model == "UM.FS") out[[name]]$ML$se_devfun <- se_devfun(d, ml)

  }
  meta <- c(META, list(model = model, ml_control = m$ml_text))
  write_json(list(meta = meta, datasets = out), file.path(OUT_DIR, m$file), digits = NA,
             auto_unbox = TRUE, pretty = TRUE, na = "null")
  cat("wrote", file.path(OUT_DIR, m$file), "\n")
}
